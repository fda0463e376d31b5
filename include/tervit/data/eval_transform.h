#pragma once
// The evaluation preprocessing of timm (transforms_imagenet_eval with the default center crop mode):
// Resize(floor(img_size / crop_pct)) on the shorter side, CenterCrop(img_size), ToTensor, Normalize,
// with torchvision's exact size, offset and padding arithmetic so accuracies match the Python numbers.
#include <torch/torch.h>

#include <array>
#include <opencv2/core.hpp>

#include "tervit/data/resize.h"

namespace tervit::data {

struct EvalTransformOptions {
  int img_size = 224;
  double crop_pct = 0.875;
  Interpolation interpolation = Interpolation::kBicubic;
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
};

// The resized and center-cropped 8-bit RGB image (img_size x img_size), before ToTensor/Normalize.
// An image smaller than the crop is padded with zeros around it, as torchvision's CenterCrop does.
cv::Mat eval_resize_crop(const cv::Mat& rgb8, const EvalTransformOptions& options);

// torchvision's ToTensor: CV_8UC3 HxW -> float32 [3, H, W] in [0, 1].
torch::Tensor to_chw_float(const cv::Mat& rgb8);

// eval_resize_crop, ToTensor and Normalize: float32 [3, img_size, img_size].
// Throws tervit::Error for a non-positive img_size or crop_pct.
torch::Tensor eval_transform(const cv::Mat& rgb8, const EvalTransformOptions& options);

}  // namespace tervit::data
