#pragma once
// ToTensor + Normalize in one pass: 8-bit RGB HxW -> float32 [3, H, W] holding (v / 255 - mean) / std,
// computed with the same float32 operations as torchvision (so values are identical), via a 256-entry
// table per channel instead of two passes over a float tensor.
#include <torch/torch.h>

#include <array>
#include <opencv2/core.hpp>

namespace tervit::data {

struct Normalization {
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  // ImageNet's, timm's default
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
};

// With mirror, the image is read right to left: a horizontal flip in the same pass.
// Throws tervit::Error for an image that is not CV_8UC3 or a zero std.
torch::Tensor to_normalized_chw(const cv::Mat& rgb8, const Normalization& normalization, bool mirror = false);

}  // namespace tervit::data
