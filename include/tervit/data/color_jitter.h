#pragma once
// torchvision's ColorJitter(brightness, contrast, saturation) on a PIL image, as timm's train transform
// uses it (color_jitter=0.4 gives 0.4 for all three; hue stays off, as in timm's default).
#include <opencv2/core.hpp>

#include "tervit/data/random.h"

namespace tervit::data {

struct ColorJitterOptions {
  double brightness = 0.0;  // factor ~ U(max(0, 1 - b), 1 + b); 0 disables
  double contrast = 0.0;
  double saturation = 0.0;
};

// Draws the enabled factors, then applies the adjustments in a random order (torchvision's randperm),
// in place. Throws tervit::Error for a negative strength.
void color_jitter(cv::Mat& rgb8, const ColorJitterOptions& options, Rng& rng);

}  // namespace tervit::data
