#pragma once
// normalize_planes (normalize_planes.h) into a tensor: 8-bit RGB HxW -> float32 [3, H, W].
#include <torch/torch.h>

#include <opencv2/core.hpp>

#include "tervit/image/normalize_planes.h"

namespace tervit::data {

// With mirror, a horizontal flip in the same pass. Throws tervit::Error for an image that is not CV_8UC3 or
// a zero std.
torch::Tensor to_normalized_chw(const cv::Mat& rgb8, const image::Normalization& normalization, bool mirror = false);

}  // namespace tervit::data
