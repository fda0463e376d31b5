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
  cv::Mat image = random_resized_crop(rgb8, options_.crop, rng);  // a new image: rgb8 stays untouched
  if (bernoulli(rng, options_.hflip)) cv::flip(image, image, 1);
  if (rand_augment_) {
    (*rand_augment_)(image, rng);
  } else {
    color_jitter(image, options_.color_jitter, rng);
  }
  torch::Tensor chw = to_normalized_chw(image, options_.normalization);
  random_erasing(chw, options_.erasing, rng);
  return chw;
}

}  // namespace tervit::data
