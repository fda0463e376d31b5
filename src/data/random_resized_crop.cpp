#include "tervit/data/random_resized_crop.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "tervit/core/error.h"

namespace tervit::data {
namespace {

// Python's round(): halves to even (the default floating-point rounding mode).
int round_half_even(double value) { return static_cast<int>(std::nearbyint(value)); }

}  // namespace

void validate_crop_options(const RandomResizedCropOptions& options) {
  if (options.size <= 0) throw Error("RandomResizedCrop: size must be positive, got " + std::to_string(options.size));
  if (!(options.scale_min > 0.0 && options.scale_min <= options.scale_max)) {
    throw Error("RandomResizedCrop: scale range must satisfy 0 < min <= max, got " + std::to_string(options.scale_min) +
                "-" + std::to_string(options.scale_max));
  }
  if (!(options.ratio_min > 0.0 && options.ratio_min <= options.ratio_max)) {
    throw Error("RandomResizedCrop: ratio range must satisfy 0 < min <= max, got " + std::to_string(options.ratio_min) +
                "-" + std::to_string(options.ratio_max));
  }
}

cv::Rect random_resized_crop_box(int width, int height, const RandomResizedCropOptions& options, Rng& rng) {
  validate_crop_options(options);
  const double area = static_cast<double>(width) * height;
  const double log_ratio_min = std::log(options.ratio_min);
  const double log_ratio_max = std::log(options.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * uniform(rng, options.scale_min, options.scale_max);
    const double aspect_ratio = std::exp(uniform(rng, log_ratio_min, log_ratio_max));
    const int w = round_half_even(std::sqrt(target_area * aspect_ratio));
    const int h = round_half_even(std::sqrt(target_area / aspect_ratio));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int y = static_cast<int>(uniform_int(rng, 0, height - h));
      const int x = static_cast<int>(uniform_int(rng, 0, width - w));
      return {x, y, w, h};
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  int w = width;
  int h = height;
  if (in_ratio < options.ratio_min) {
    h = std::clamp(round_half_even(w / options.ratio_min), 1, height);
  } else if (in_ratio > options.ratio_max) {
    w = std::clamp(round_half_even(h * options.ratio_max), 1, width);
  }
  return {(width - w) / 2, (height - h) / 2, w, h};
}

cv::Mat resized_crop(const cv::Mat& rgb8, const cv::Rect& box, const RandomResizedCropOptions& options) {
  validate_crop_options(options);
  return image::resize_like_pil(rgb8(box), options.size, options.size, options.interpolation);
}

cv::Mat random_resized_crop(const cv::Mat& rgb8, const RandomResizedCropOptions& options, Rng& rng) {
  return resized_crop(rgb8, random_resized_crop_box(rgb8.cols, rgb8.rows, options, rng), options);
}

cv::Mat random_resized_crop(const EncodedImage& image, const RandomResizedCropOptions& options, Rng& rng) {
  const cv::Rect box = random_resized_crop_box(image.size().width, image.size().height, options, rng);
  return resized_crop(image.decode(box), cv::Rect(cv::Point(0, 0), box.size()), options);
}

}  // namespace tervit::data
