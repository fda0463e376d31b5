#pragma once
// PNG straight through libpng into 8-bit RGB, with the pixels OpenCV's decoder gives decode_image: palette
// and 1-, 2- and 4-bit gray expanded, 16-bit samples scaled to 8 bits by round(v / 257), alpha and tRNS
// transparency dropped without compositing (PIL's convert('RGB')), no gamma correction.
#include <cstddef>
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>

namespace tervit::image {

// True when the data starts with the PNG signature.
bool is_png(const uint8_t* bytes, size_t size);

// A PNG (is_png) into CV_8UC3 RGB. Throws ImageDecodeError naming `name` for corrupt or truncated data
// (a missing IEND included) and for images over max_image_pixels() (image_errors.h).
cv::Mat decode_png_rgb(const uint8_t* bytes, size_t size, const std::string& name);

}  // namespace tervit::image
