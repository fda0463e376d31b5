#pragma once
// timm's evaluation preprocessing as a tensor: eval_resize_crop (eval_crop.h), then ToTensor and Normalize
// (normalize.h).
#include <torch/torch.h>

#include <opencv2/core.hpp>

#include "tervit/image/eval_crop.h"

namespace tervit::data {

// eval_resize_crop, ToTensor and Normalize: float32 [3, img_size, img_size].
// Throws tervit::Error for a non-positive img_size or crop_pct.
torch::Tensor eval_transform(const cv::Mat& rgb8, const image::EvalTransformOptions& options);

}  // namespace tervit::data
