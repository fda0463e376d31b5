#pragma once
// ToTensor + Normalize in one pass, into plain memory: 8-bit RGB HxW -> three float planes holding
// (v / 255 - mean) / std, computed with the same float32 operations as torchvision (so values are
// identical), via a 256-entry table per channel instead of two passes over floats. Free of LibTorch: the
// LibTorch-free runtime normalizes its images with it; normalize.h wraps it in a tensor.
#include <array>
#include <cstdint>
#include <string>
#include <opencv2/core.hpp>

namespace tervit::image {

struct Normalization {
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  // ImageNet's, timm's default
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
};

// Throws tervit::Error naming `source` when a model taking `in_chans`-channel images would be fed these
// planes: every decoded image is RGB.
void check_takes_rgb(int64_t in_chans, const std::string& source);

// planes: 3 x rows x cols floats. With mirror, the image is read right to left: a horizontal flip in the
// same pass. Throws tervit::Error for an image that is not CV_8UC3 or a zero std.
void normalize_planes(const cv::Mat& rgb8, const Normalization& normalization, bool mirror, float* planes);

}  // namespace tervit::image
