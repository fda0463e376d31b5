#pragma once
// PIL's ImageEnhance operations on 8-bit RGB images, which torchvision's ColorJitter and timm's
// RandAugment apply to PIL images: each blends the image with a "degenerate" version by a factor
// (0 gives the degenerate image, 1 the original, > 1 extrapolates), in float, truncated and clipped to
// 8 bits as Pillow's ImagingBlend does.
#include <opencv2/core.hpp>

namespace tervit::data {

// PIL's convert('L'): (19595 R + 38470 G + 7471 B + 2^15) >> 16, as CV_8UC1.
cv::Mat pil_grayscale(const cv::Mat& rgb8);

// ImageEnhance.Brightness: blend with black.
void adjust_brightness(cv::Mat& rgb8, double factor);

// ImageEnhance.Contrast: blend with the image's mean grey level (int(mean(L) + 0.5)).
void adjust_contrast(cv::Mat& rgb8, double factor);

// ImageEnhance.Color (saturation): blend with the image's greyscale version.
void adjust_saturation(cv::Mat& rgb8, double factor);

// ImageEnhance.Sharpness: blend with ImageFilter.SMOOTH (3x3 kernel 1 1 1 / 1 5 1 / 1 1 1, sum 13; the
// one-pixel border keeps its values).
void adjust_sharpness(cv::Mat& rgb8, double factor);

}  // namespace tervit::data
