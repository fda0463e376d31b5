#pragma once
// timm's training transform (transforms_imagenet_train) for DeiT/Swin recipes, on one decoded image:
// RandomResizedCrop -> horizontal flip -> RandAugment or color jitter -> ToTensor + Normalize ->
// random erasing. Every random choice comes from the Rng passed in, so the same seed gives the same
// tensor on any thread.
#include <torch/torch.h>

#include <opencv2/core.hpp>
#include <optional>
#include <string>

#include "tervit/data/color_jitter.h"
#include "tervit/data/encoded_image.h"
#include "tervit/data/normalize.h"
#include "tervit/data/random.h"
#include "tervit/data/random_erasing.h"
#include "tervit/data/rand_augment.h"
#include "tervit/data/random_resized_crop.h"

namespace tervit::data {

struct TrainTransformOptions {
  RandomResizedCropOptions crop;
  double hflip = 0.5;
  // As timm: applied only without auto_augment (RandAugment replaces color jitter).
  ColorJitterOptions color_jitter{0.4, 0.4, 0.4};
  std::string auto_augment;  // a RandAugment string such as "rand-m9-mstd0.5-inc1"; "" for none
  RandAugmentParams rand_augment_params;
  image::Normalization normalization;
  RandomErasingOptions erasing;
};

class TrainTransform {
 public:
  // Throws tervit::Error for invalid options (including a malformed auto_augment string).
  explicit TrainTransform(TrainTransformOptions options);

  // float32 [3, size, size]. rgb8 is not modified.
  torch::Tensor operator()(const cv::Mat& rgb8, Rng& rng) const;
  // The same tensor from an image not decoded yet, of which only the crop is decoded (the loader's way).
  torch::Tensor operator()(const EncodedImage& image, Rng& rng) const;

  const TrainTransformOptions& options() const { return options_; }

 private:
  // Everything after RandomResizedCrop.
  torch::Tensor augment(cv::Mat crop, Rng& rng) const;

  TrainTransformOptions options_;
  std::optional<RandAugment> rand_augment_;
};

}  // namespace tervit::data
