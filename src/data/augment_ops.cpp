#include "tervit/data/augment_ops.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <opencv2/imgproc.hpp>
#include <string>

#include "tervit/core/error.h"

namespace tervit::data {
namespace {

void require_rgb8(const cv::Mat& image, const char* operation) {
  if (image.type() != CV_8UC3) throw Error(std::string(operation) + ": expects an 8-bit 3-channel image");
}

using Table = std::array<uint8_t, 256>;

void apply_table(cv::Mat& rgb8, const std::function<uint8_t(int)>& value) {
  cv::Mat table(1, 256, CV_8U);
  for (int v = 0; v < 256; ++v) table.at<uint8_t>(v) = value(v);
  cv::LUT(rgb8, table, rgb8);
}

std::array<std::array<int64_t, 256>, 3> channel_histograms(const cv::Mat& rgb8) {
  std::array<std::array<int64_t, 256>, 3> histograms{};
  for (int y = 0; y < rgb8.rows; ++y) {
    const uint8_t* row = rgb8.ptr<uint8_t>(y);
    for (int x = 0; x < rgb8.cols; ++x, row += 3) {
      for (int c = 0; c < 3; ++c) ++histograms[c][row[c]];
    }
  }
  return histograms;
}

// One table per channel, applied in place.
void apply_channel_tables(cv::Mat& rgb8, const std::array<Table, 3>& tables) {
  for (int y = 0; y < rgb8.rows; ++y) {
    uint8_t* row = rgb8.ptr<uint8_t>(y);
    for (int x = 0; x < rgb8.cols; ++x, row += 3) {
      for (int c = 0; c < 3; ++c) row[c] = tables[c][row[c]];
    }
  }
}

Table identity_table() {
  Table table;
  for (int v = 0; v < 256; ++v) table[v] = static_cast<uint8_t>(v);
  return table;
}

}  // namespace

void auto_contrast(cv::Mat& rgb8) {
  require_rgb8(rgb8, "auto_contrast");
  const auto histograms = channel_histograms(rgb8);
  std::array<Table, 3> tables;
  for (int c = 0; c < 3; ++c) {
    const auto& h = histograms[c];
    int lo = 0;
    while (lo < 255 && h[lo] == 0) ++lo;
    int hi = 255;
    while (hi > 0 && h[hi] == 0) --hi;
    tables[c] = identity_table();
    if (hi <= lo) continue;
    const double scale = 255.0 / (hi - lo);
    const double offset = -lo * scale;
    for (int v = 0; v < 256; ++v) tables[c][v] = static_cast<uint8_t>(std::clamp(static_cast<int>(v * scale + offset), 0, 255));
  }
  apply_channel_tables(rgb8, tables);
}

void equalize(cv::Mat& rgb8) {
  require_rgb8(rgb8, "equalize");
  const auto histograms = channel_histograms(rgb8);
  std::array<Table, 3> tables;
  for (int c = 0; c < 3; ++c) {
    const auto& h = histograms[c];
    tables[c] = identity_table();
    int64_t total = 0;
    int64_t last_nonzero = 0;
    for (const int64_t count : h) {
      total += count;
      if (count > 0) last_nonzero = count;
    }
    const int64_t step = (total - last_nonzero) / 255;
    if (step == 0) continue;  // also covers a single-valued channel
    int64_t n = step / 2;
    for (int v = 0; v < 256; ++v) {
      tables[c][v] = static_cast<uint8_t>(std::min<int64_t>(n / step, 255));
      n += h[v];
    }
  }
  apply_channel_tables(rgb8, tables);
}

void invert(cv::Mat& rgb8) {
  require_rgb8(rgb8, "invert");
  apply_table(rgb8, [](int v) { return static_cast<uint8_t>(255 - v); });
}

void posterize(cv::Mat& rgb8, int bits) {
  require_rgb8(rgb8, "posterize");
  if (bits < 0 || bits > 8) throw Error("posterize: bits must lie in 0..8, got " + std::to_string(bits));
  const int mask = ~((1 << (8 - bits)) - 1) & 0xFF;
  apply_table(rgb8, [mask](int v) { return static_cast<uint8_t>(v & mask); });
}

void solarize(cv::Mat& rgb8, int threshold) {
  require_rgb8(rgb8, "solarize");
  apply_table(rgb8, [threshold](int v) { return static_cast<uint8_t>(v < threshold ? v : 255 - v); });
}

void solarize_add(cv::Mat& rgb8, int add, int threshold) {
  require_rgb8(rgb8, "solarize_add");
  apply_table(rgb8, [=](int v) { return static_cast<uint8_t>(v < threshold ? std::clamp(v + add, 0, 255) : v); });
}

cv::Mat affine_like_pil(const cv::Mat& rgb8, const cv::Matx23d& m, image::Interpolation interpolation, const cv::Scalar& fill) {
  require_rgb8(rgb8, "affine");
  // PIL maps pixel centres (x + 0.5, y + 0.5) and reads the input at (u - 0.5, v - 0.5); OpenCV puts
  // centres on integers, so the offsets fold into the translation.
  const cv::Matx23d opencv_map(m(0, 0), m(0, 1), m(0, 2) + 0.5 * (m(0, 0) + m(0, 1) - 1.0),  //
                               m(1, 0), m(1, 1), m(1, 2) + 0.5 * (m(1, 0) + m(1, 1) - 1.0));
  const int flags = (interpolation == image::Interpolation::kBicubic   ? cv::INTER_CUBIC
                     : interpolation == image::Interpolation::kNearest ? cv::INTER_NEAREST
                                                                : cv::INTER_LINEAR) |
                    cv::WARP_INVERSE_MAP;
  cv::Mat out;
  cv::warpAffine(rgb8, out, cv::Mat(opencv_map), rgb8.size(), flags, cv::BORDER_CONSTANT, fill);
  return out;
}

cv::Mat rotate_like_pil(const cv::Mat& rgb8, double degrees, image::Interpolation interpolation, const cv::Scalar& fill) {
  // PIL's Image.rotate: the inverse map rotates by -angle about the centre (w / 2, h / 2).
  const double angle = -degrees * M_PI / 180.0;
  const double cos_a = std::cos(angle);
  const double sin_a = std::sin(angle);
  const double cx = rgb8.cols / 2.0;
  const double cy = rgb8.rows / 2.0;
  const cv::Matx23d map(cos_a, sin_a, cos_a * -cx + sin_a * -cy + cx,  //
                        -sin_a, cos_a, -sin_a * -cx + cos_a * -cy + cy);
  return affine_like_pil(rgb8, map, interpolation, fill);
}

}  // namespace tervit::data
