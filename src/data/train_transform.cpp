#include "tervit/data/train_transform.h"

#include <utility>

#include "tervit/core/error.h"

namespace tervit::data {

TrainTransform::TrainTransform(TrainTransformOptions options) : options_(std::move(options)) {
  validate_crop_options(options_.crop);
  if (!options_.auto_augment.empty()) rand_augment_.emplace(options_.auto_augment, options_.rand_augment_params);
}

torch::Tensor TrainTransform::operator()(const cv::Mat& rgb8, Rng& rng) const {
  if (rgb8.type() != CV_8UC3 || rgb8.empty()) throw Error("train transform: expects a non-empty 8-bit RGB image");
  return augment(random_resized_crop(rgb8, options_.crop, rng), rng);  // a new image: rgb8 stays untouched
}

torch::Tensor TrainTransform::operator()(const EncodedImage& image, Rng& rng) const {
  return augment(random_resized_crop(image, options_.crop, rng), rng);
}

torch::Tensor TrainTransform::augment(cv::Mat crop, Rng& rng) const {
  const bool flip = bernoulli(rng, options_.hflip);
  torch::Tensor chw;
  if (rand_augment_) {
    if (flip) cv::flip(crop, crop, 1);  // before RandAugment's geometric ops, which do not commute with it
    (*rand_augment_)(crop, rng);
    chw = to_normalized_chw(crop, options_.normalization);
  } else {
    // Color jitter changes each pixel by the same rule (contrast through the image mean), so flipping
    // afterwards, while normalizing, gives the same values without a pass of its own.
    color_jitter(crop, options_.color_jitter, rng);
    chw = to_normalized_chw(crop, options_.normalization, flip);
  }
  random_erasing(chw, options_.erasing, rng);
  return chw;
}

}  // namespace tervit::data
