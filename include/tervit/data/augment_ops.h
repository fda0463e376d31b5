#pragma once
// The image operations of timm's RandAugment on 8-bit RGB images, as PIL's ImageOps and Image.transform
// compute them (the colour ops in pil_enhance.h). Each returns a new image or works in place as named.
#include <opencv2/core.hpp>

#include "tervit/image/resize.h"

namespace tervit::data {

// ImageOps.autocontrast (cutoff 0): each channel stretched linearly from [min, max] to [0, 255].
void auto_contrast(cv::Mat& rgb8);

// ImageOps.equalize: each channel through PIL's cumulative-histogram table.
void equalize(cv::Mat& rgb8);

// ImageOps.invert: 255 - v.
void invert(cv::Mat& rgb8);

// ImageOps.posterize: keep the `bits` most significant bits (0..8).
void posterize(cv::Mat& rgb8, int bits);

// ImageOps.solarize: values >= threshold become 255 - v.
void solarize(cv::Mat& rgb8, int threshold);

// timm's solarize_add: values < threshold get min(255, v + add).
void solarize_add(cv::Mat& rgb8, int add, int threshold = 128);

// PIL's Image.transform(size, AFFINE, (a, b, c, d, e, f)): output pixel (x, y) samples the input at
// (a x + b y + c, d x + e y + f) in PIL's pixel-centre convention; outside points get `fill`.
// Bilinear or bicubic (OpenCV's cubic kernel, a = -0.75, against PIL's -0.5: close, not identical).
cv::Mat affine_like_pil(const cv::Mat& rgb8, const cv::Matx23d& inverse_map, image::Interpolation interpolation,
                        const cv::Scalar& fill);

// Image.rotate(degrees) about the centre, counter-clockwise, same size.
cv::Mat rotate_like_pil(const cv::Mat& rgb8, double degrees, image::Interpolation interpolation, const cv::Scalar& fill);

}  // namespace tervit::data
