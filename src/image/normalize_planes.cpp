#include "tervit/image/normalize_planes.h"

#include <cstdint>
#include <string>

#include "tervit/core/error.h"

namespace tervit::image {

void check_takes_rgb(int64_t in_chans, const std::string& source) {
  if (in_chans != 3)
    throw Error(source + ": the model takes " + std::to_string(in_chans) +
                "-channel images (in_chans), but the data pipeline decodes every image to 3 channels (RGB)");
}

void normalize_planes(const cv::Mat& rgb8, const Normalization& normalization, bool mirror, float* planes) {
  if (rgb8.type() != CV_8UC3) throw Error("normalize: expects an 8-bit 3-channel image");
  float table[3][256];
  for (int c = 0; c < 3; ++c) {
    if (normalization.std[c] == 0.0f) throw Error("normalize: std must not be zero");
    for (int v = 0; v < 256; ++v) table[c][v] = (static_cast<float>(v) / 255.0f - normalization.mean[c]) / normalization.std[c];
  }
  const int64_t plane = static_cast<int64_t>(rgb8.rows) * rgb8.cols;
  const int step = mirror ? -3 : 3;
  for (int y = 0; y < rgb8.rows; ++y) {
    const uint8_t* in = rgb8.ptr<uint8_t>(y) + (mirror ? (rgb8.cols - 1) * 3 : 0);
    const int64_t offset = static_cast<int64_t>(y) * rgb8.cols;
    for (int x = 0; x < rgb8.cols; ++x, in += step) {
      for (int c = 0; c < 3; ++c) planes[c * plane + offset + x] = table[c][in[c]];
    }
  }
}

}  // namespace tervit::image
