#pragma once
// Image files -> 8-bit RGB, the one pixel format the data pipeline works in (what PIL's
// Image.open(...).convert('RGB') gives timm/torchvision, except that 16-bit images are scaled, not clipped).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "tervit/image/direct_decode.h"

namespace tervit::data {

// Decodes an encoded image into CV_8UC3 in RGB order: JPEG (progressive, grayscale) and PNG (16-bit, alpha,
// palette, gray + alpha) through direct_decode.h; CMYK JPEG, BMP, WebP and TIFF as OpenCV supports them.
// Alpha is dropped, 16-bit values are scaled to 8 bits (round(v / 257)); EXIF orientation is ignored, as
// PIL does.
// Throws ImageDecodeError naming `name` for empty, truncated, corrupt or unrecognised data.
cv::Mat decode_image(const uint8_t* bytes, size_t size, const std::string& name);

// Reads and decodes a file with decode_image; errors name the path.
cv::Mat read_image(const std::filesystem::path& path);

}  // namespace tervit::data
