#pragma once
// torchvision's RandomResizedCrop, the first train transform of DeiT/Swin: a random box covering
// scale (0.08-1) of the image area with a log-uniform aspect ratio (3/4-4/3), resized to size x size
// with PIL's antialiased filter (bicubic by default, as timm trains DeiT and Swin).
#include <opencv2/core.hpp>

#include "tervit/data/encoded_image.h"
#include "tervit/data/random.h"
#include "tervit/image/resize.h"

namespace tervit::data {

struct RandomResizedCropOptions {
  int size = 224;
  double scale_min = 0.08;
  double scale_max = 1.0;
  double ratio_min = 3.0 / 4.0;
  double ratio_max = 4.0 / 3.0;
  image::Interpolation interpolation = image::Interpolation::kBicubic;
};

// Throws tervit::Error naming the problem for size <= 0 or an empty or reversed scale or ratio range.
void validate_crop_options(const RandomResizedCropOptions& options);

// RandomResizedCrop.get_params: up to 10 tries of area ~ U(scale) * W * H and ratio ~ exp(U(log ratio)),
// w = round(sqrt(area * ratio)), h = round(sqrt(area / ratio)) (half to even, as Python), accepted when
// it fits; then the offset is uniform. After 10 misses: the centred largest box whose ratio is clamped
// to the range. The box always lies inside the image.
cv::Rect random_resized_crop_box(int width, int height, const RandomResizedCropOptions& options, Rng& rng);

// Crops `box` out of rgb8 and resizes it to options.size x options.size.
cv::Mat resized_crop(const cv::Mat& rgb8, const cv::Rect& box, const RandomResizedCropOptions& options);

// resized_crop(rgb8, random_resized_crop_box(...)).
cv::Mat random_resized_crop(const cv::Mat& rgb8, const RandomResizedCropOptions& options, Rng& rng);

// The same on an image not decoded yet: the box is drawn from the header's size, then only the box is
// decoded. Same draws, same pixels as on the decoded image, about half the decoding work.
cv::Mat random_resized_crop(const EncodedImage& image, const RandomResizedCropOptions& options, Rng& rng);

}  // namespace tervit::data
