#pragma once
// timm's RandAugment (rand_augment_transform), configured by its string form, e.g. DeiT's
// "rand-m9-mstd0.5-inc1": sections after "rand" are m<int> magnitude (default 10), n<int> ops per image
// (2), mstd<float> magnitude noise (Gaussian; > 100 means uniform in [0, m]), mmax<int> magnitude clip
// (10), inc<int> increasing-severity variants (0), p<float> probability of each chosen op (0.5), w<int>
// choice weights (only index 0, as timm). Ops: AutoContrast, Equalize, Invert, Rotate, Posterize,
// Solarize, SolarizeAdd, Color, Contrast, Brightness, Sharpness, ShearX, ShearY, TranslateXRel,
// TranslateYRel.
#include <array>
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "tervit/data/random.h"
#include "tervit/image/resize.h"

namespace tervit::data {

// timm's hparams for RandAugment as its ImageNet train transform sets them.
struct RandAugmentParams {
  std::array<uint8_t, 3> fill{124, 116, 104};  // round(255 * ImageNet mean): area uncovered by geometric ops
  image::Interpolation interpolation = image::Interpolation::kBicubic;  // of rotate/shear/translate
  double translate_pct = 0.45;  // TranslateX/YRel at magnitude 10, as a fraction of the image side
};

class RandAugment {
 public:
  // Throws tervit::Error naming the string and the offending section for a malformed config.
  explicit RandAugment(const std::string& config, RandAugmentParams params = {});

  // Applies num_layers ops, chosen with replacement (without, when weighted), each with probability p.
  void operator()(cv::Mat& rgb8, Rng& rng) const;

  // One op by its timm name at a given magnitude (0..mmax) with its random sign drawn from rng.
  void apply_op(const std::string& name, cv::Mat& rgb8, double magnitude, Rng& rng) const;

  const std::vector<std::string>& op_names() const { return op_names_; }
  int num_layers() const { return num_layers_; }
  double magnitude() const { return magnitude_; }
  double magnitude_std() const { return magnitude_std_; }
  double magnitude_max() const { return magnitude_max_; }
  double probability() const { return probability_; }

 private:
  RandAugmentParams params_;
  std::vector<std::string> op_names_;
  std::vector<double> choice_weights_;  // empty: uniform with replacement
  int num_layers_ = 2;
  double magnitude_ = 10.0;
  double magnitude_std_ = 0.0;
  double magnitude_max_ = 10.0;
  double probability_ = 0.5;
};

}  // namespace tervit::data
