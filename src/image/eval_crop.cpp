#include "tervit/image/eval_crop.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

#include "tervit/core/error.h"

namespace tervit::image {
namespace {

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

void check_eval_transform(const EvalTransformOptions& options) {
  if (options.img_size <= 0)
    throw Error("eval transform: img_size must be positive, got " + std::to_string(options.img_size));
  // Above 1 the resize is smaller than the crop, which pads it (torchvision's CenterCrop): allowed here.
  if (!(options.crop_pct >= kMinCropPct && std::isfinite(options.crop_pct))) {
    std::ostringstream message;
    message << "eval transform: crop_pct " << options.crop_pct << " is out of range, expected at least " << kMinCropPct;
    throw Error(message.str());
  }
}

double default_crop_pct(const std::string& family) { return family == "swin" ? 0.9 : 0.875; }

cv::Mat eval_resize_crop(const cv::Mat& rgb8, const EvalTransformOptions& options) {
  check_eval_transform(options);
  const int scale_size = static_cast<int>(std::floor(options.img_size / options.crop_pct));
  const cv::Size resized = shorter_side_size(rgb8, scale_size);
  return center_crop(resize_like_pil(rgb8, resized.width, resized.height, options.interpolation), options.img_size);
}

}  // namespace tervit::image
