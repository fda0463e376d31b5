#pragma once
// Image files -> 8-bit RGB, the one pixel format the data pipeline works in (what PIL's
// Image.open(...).convert('RGB') gives timm/torchvision, except that 16-bit images are scaled, not clipped).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "tervit/core/error.h"

namespace tervit::data {

// Data that is not a decodable image (empty, truncated, corrupt, unknown format). A tervit::Error, so that
// callers may tell bad data apart from other errors: the loader skips bad files but stops on a bug.
class ImageDecodeError : public Error {
 public:
  using Error::Error;
};

// The checks made before any decoding: empty data, over 2 GiB, or a JPEG without its end-of-image marker
// (libjpeg would decode a truncated file "successfully", grey below the cut). Throws ImageDecodeError.
void check_encoded_image(const uint8_t* bytes, size_t size, const std::string& name);

// Decodes an encoded image (JPEG incl. progressive/grayscale/CMYK, PNG incl. 16-bit/alpha/palette/gray+alpha,
// BMP, WebP, TIFF as OpenCV supports them) into CV_8UC3 in RGB order. Alpha is dropped, 16-bit values are
// scaled to 8 bits (round(v / 257)); EXIF orientation is ignored, as PIL does.
// Throws ImageDecodeError naming `name` for empty, truncated, corrupt or unrecognised data.
cv::Mat decode_image(const uint8_t* bytes, size_t size, const std::string& name);

// Reads and decodes a file with decode_image; errors name the path.
cv::Mat read_image(const std::filesystem::path& path);

}  // namespace tervit::data
