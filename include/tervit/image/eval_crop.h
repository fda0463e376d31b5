#pragma once
// The geometry of timm's evaluation preprocessing (transforms_imagenet_eval, default center crop mode):
// Resize(floor(img_size / crop_pct)) on the shorter side, then CenterCrop(img_size), with torchvision's
// exact size, offset and padding arithmetic so accuracies match the Python numbers. Free of LibTorch: the
// LibTorch-free runtime preprocesses its images with it too.
#include <array>
#include <opencv2/core.hpp>
#include <string>

#include "tervit/image/resize.h"

namespace tervit::image {

struct EvalTransformOptions {
  int img_size = 224;
  double crop_pct = 0.875;
  Interpolation interpolation = Interpolation::kBicubic;
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
};

// The smallest crop_pct taken anywhere (configs, options, file metadata): below it the resize before the crop
// exceeds 20x img_size, the crop a speck of the image and the resize itself a memory bomb.
constexpr double kMinCropPct = 0.05;

// Throws tervit::Error naming img_size or crop_pct when either is out of range (crop_pct: at least kMinCropPct).
void check_eval_transform(const EvalTransformOptions& options);

// timm's default crop_pct of a model family ("deit", "swin"): 0.9 for Swin, 0.875 otherwise.
double default_crop_pct(const std::string& family);

// The resized and center-cropped 8-bit RGB image (img_size x img_size), before ToTensor/Normalize.
// An image smaller than the crop is padded with zeros around it, as torchvision's CenterCrop does.
// Throws as check_eval_transform does.
cv::Mat eval_resize_crop(const cv::Mat& rgb8, const EvalTransformOptions& options);

}  // namespace tervit::image
