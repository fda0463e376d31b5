#include "tervit/data/eval_transform.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "tervit/core/error.h"

namespace tervit::data {
namespace {

void validate(const EvalTransformOptions& options) {
  if (options.img_size <= 0)
    throw Error("eval transform: img_size must be positive, got " + std::to_string(options.img_size));
  if (!(options.crop_pct > 0.0))
    throw Error("eval transform: crop_pct must be positive, got " + std::to_string(options.crop_pct));
}

// torchvision Resize(int): the shorter side becomes `size`, the longer one int(size * long / short).
cv::Size shorter_side_size(const cv::Mat& image, int size) {
  const bool width_is_short = image.cols <= image.rows;
  const int64_t short_side = width_is_short ? image.cols : image.rows;
  const int64_t long_side = width_is_short ? image.rows : image.cols;
  const int new_long = static_cast<int>(static_cast<double>(size * long_side) / static_cast<double>(short_side));
  return width_is_short ? cv::Size(size, new_long) : cv::Size(new_long, size);
}

// Python's round((extent - size) / 2.0), which rounds halves to even.
int centered_offset(int extent, int size) {
  const int difference = extent - size;
  int offset = difference / 2;
  if (difference % 2 != 0 && offset % 2 != 0) ++offset;
  return offset;
}

// torchvision CenterCrop: first pad a too-small side with zeros ((size - extent) // 2 before, the rest
// after), then crop at the rounded centre offset.
cv::Mat center_crop(const cv::Mat& image, int size) {
  const int pad_rows = std::max(size - image.rows, 0);
  const int pad_cols = std::max(size - image.cols, 0);
  cv::Mat padded = image;
  if (pad_rows > 0 || pad_cols > 0) {
    cv::copyMakeBorder(image, padded, pad_rows / 2, pad_rows - pad_rows / 2, pad_cols / 2, pad_cols - pad_cols / 2,
                       cv::BORDER_CONSTANT, cv::Scalar::all(0));
  }
  const cv::Rect crop(centered_offset(padded.cols, size), centered_offset(padded.rows, size), size, size);
  return padded(crop).clone();
}

}  // namespace

cv::Mat eval_resize_crop(const cv::Mat& rgb8, const EvalTransformOptions& options) {
  validate(options);
  const int scale_size = static_cast<int>(std::floor(options.img_size / options.crop_pct));
  const cv::Size resized = shorter_side_size(rgb8, scale_size);
  return center_crop(resize_like_pil(rgb8, resized.width, resized.height, options.interpolation), options.img_size);
}

torch::Tensor to_chw_float(const cv::Mat& rgb8) {
  if (rgb8.type() != CV_8UC3) throw Error("to_chw_float: expects an 8-bit 3-channel image");
  const torch::Tensor hwc =
      torch::from_blob(rgb8.data, {rgb8.rows, rgb8.cols, 3}, {static_cast<int64_t>(rgb8.step[0]), 3, 1}, torch::kUInt8);
  // to(kFloat) copies, so the result does not alias the cv::Mat.
  return hwc.permute({2, 0, 1}).contiguous().to(torch::kFloat).div(255);
}

torch::Tensor eval_transform(const cv::Mat& rgb8, const EvalTransformOptions& options) {
  const torch::Tensor mean = torch::tensor({options.mean[0], options.mean[1], options.mean[2]}).view({3, 1, 1});
  const torch::Tensor std = torch::tensor({options.std[0], options.std[1], options.std[2]}).view({3, 1, 1});
  return to_chw_float(eval_resize_crop(rgb8, options)).sub(mean).div(std);
}

}  // namespace tervit::data
