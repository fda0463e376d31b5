#include "tervit/data/pil_enhance.h"

#include <cstdint>
#include <opencv2/imgproc.hpp>
#include <string>

#include "tervit/core/error.h"

namespace tervit::data {
namespace {

void require_rgb8(const cv::Mat& image, const char* operation) {
  if (image.type() != CV_8UC3) throw Error(std::string(operation) + ": expects an 8-bit 3-channel image");
}

// Pillow's ImagingBlend for one value: in1 + alpha * (in2 - in1) in float, clipped, truncated.
uint8_t blend_value(int degenerate, int original, float alpha) {
  const float value = static_cast<float>(degenerate) + alpha * static_cast<float>(original - degenerate);
  if (value <= 0.0f) return 0;
  if (value >= 255.0f) return 255;
  return static_cast<uint8_t>(value);
}

// Blend with a constant degenerate value: a lookup table per image.
void blend_with_constant(cv::Mat& rgb8, int degenerate, double factor) {
  cv::Mat table(1, 256, CV_8U);
  for (int v = 0; v < 256; ++v) table.at<uint8_t>(v) = blend_value(degenerate, v, static_cast<float>(factor));
  cv::LUT(rgb8, table, rgb8);
}

void blend_with_image(cv::Mat& rgb8, const cv::Mat& degenerate, double factor) {
  const auto alpha = static_cast<float>(factor);
  for (int y = 0; y < rgb8.rows; ++y) {
    uint8_t* row = rgb8.ptr<uint8_t>(y);
    const uint8_t* base = degenerate.ptr<uint8_t>(y);
    for (int x = 0; x < rgb8.cols * 3; ++x) row[x] = blend_value(base[x], row[x], alpha);
  }
}

}  // namespace

cv::Mat pil_grayscale(const cv::Mat& rgb8) {
  require_rgb8(rgb8, "grayscale");
  cv::Mat gray(rgb8.size(), CV_8UC1);
  for (int y = 0; y < rgb8.rows; ++y) {
    const uint8_t* in = rgb8.ptr<uint8_t>(y);
    uint8_t* out = gray.ptr<uint8_t>(y);
    for (int x = 0; x < rgb8.cols; ++x, in += 3) out[x] = static_cast<uint8_t>((in[0] * 19595 + in[1] * 38470 + in[2] * 7471 + 0x8000) >> 16);
  }
  return gray;
}

void adjust_brightness(cv::Mat& rgb8, double factor) {
  require_rgb8(rgb8, "brightness");
  blend_with_constant(rgb8, 0, factor);
}

void adjust_contrast(cv::Mat& rgb8, double factor) {
  require_rgb8(rgb8, "contrast");
  const double mean = cv::mean(pil_grayscale(rgb8))[0];
  blend_with_constant(rgb8, static_cast<int>(mean + 0.5), factor);
}

void adjust_saturation(cv::Mat& rgb8, double factor) {
  require_rgb8(rgb8, "saturation");
  cv::Mat gray3;
  cv::cvtColor(pil_grayscale(rgb8), gray3, cv::COLOR_GRAY2RGB);
  blend_with_image(rgb8, gray3, factor);
}

void adjust_sharpness(cv::Mat& rgb8, double factor) {
  require_rgb8(rgb8, "sharpness");
  cv::Mat smooth = rgb8.clone();
  for (int y = 1; y + 1 < rgb8.rows; ++y) {
    const uint8_t* rows[3] = {rgb8.ptr<uint8_t>(y - 1), rgb8.ptr<uint8_t>(y), rgb8.ptr<uint8_t>(y + 1)};
    uint8_t* out = smooth.ptr<uint8_t>(y);
    for (int x = 3; x + 3 < rgb8.cols * 3; ++x) {
      int sum = 4 * rows[1][x];  // centre weight 5 = 1 + 4
      for (const uint8_t* row : rows) sum += row[x - 3] + row[x] + row[x + 3];
      // Pillow's 3x3 filter: float sum / 13, rounded half up.
      out[x] = static_cast<uint8_t>(static_cast<float>(sum) / 13.0f + 0.5f);
    }
  }
  blend_with_image(rgb8, smooth, factor);
}

}  // namespace tervit::data
