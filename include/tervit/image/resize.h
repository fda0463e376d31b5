#pragma once
// Resizing that reproduces PIL's Image.resize bit for bit, which is what timm/torchvision eval and
// train pipelines run on PIL images (torchvision Resize(..., antialias=True)). cv::resize differs:
// it does not antialias when shrinking and rounds differently, shifting accuracy by tenths of a percent.
#include <opencv2/core.hpp>
#include <string>
#include "tervit/core/name_table.h"

namespace tervit::image {

enum class Interpolation { kNearest, kBilinear, kBicubic };

// "nearest", "bilinear" and "bicubic", as PIL and timm name them.
const NameTable<Interpolation>& interpolation_names();

// Resizes an 8-bit 3-channel image to out_width x out_height as PIL does: separable convolution with the
// filter widened by the shrink factor (antialiasing), fixed-point coefficients and 8-bit rounding between
// the horizontal and the vertical pass; kNearest matches PIL's NEAREST. Throws tervit::Error for an
// input that is not CV_8UC3 or a non-positive size.
cv::Mat resize_like_pil(const cv::Mat& rgb8, int out_width, int out_height, Interpolation interpolation);

}  // namespace tervit::image
