#include "tervit/image/direct_decode.h"

#include <limits>
#include <vector>

#include "tervit/core/file_bytes.h"
#include "tervit/image/jpeg_decode.h"
#include "tervit/image/png_decode.h"

namespace tervit::image {
namespace {

// libjpeg decodes a truncated JPEG "successfully" (grey lower part, a warning on stderr only), so a
// JPEG must end with the end-of-image marker; some writers pad after it with zeros or whitespace.
bool jpeg_has_end_marker(const uint8_t* bytes, size_t size) {
  auto is_padding = [](uint8_t b) { return b == 0x00 || b == ' ' || b == '\n' || b == '\r' || b == '\t'; };
  while (size > 0 && is_padding(bytes[size - 1])) --size;
  return size >= 4 && bytes[size - 2] == 0xFF && bytes[size - 1] == 0xD9;
}

}  // namespace

void check_encoded_image(const uint8_t* bytes, size_t size, const std::string& name) {
  if (size == 0) throw ImageDecodeError(name + ": empty file, not an image");
  if (size > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw ImageDecodeError(name + ": image file too large (over 2 GiB)");
  if (is_jpeg(bytes, size) && !jpeg_has_end_marker(bytes, size)) {
    throw ImageDecodeError(name + ": truncated JPEG (no end-of-image marker)");
  }
}

std::optional<cv::Mat> decode_directly(const uint8_t* bytes, size_t size, const std::string& name) {
  check_encoded_image(bytes, size, name);
  if (const std::optional<cv::Size> jpeg = jpeg_rgb_size(bytes, size, name))
    return decode_jpeg_rgb(bytes, size, cv::Rect(cv::Point(0, 0), *jpeg), name);
  if (is_png(bytes, size)) return decode_png_rgb(bytes, size, name);
  return std::nullopt;
}

cv::Mat read_image_directly(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  auto image = decode_directly(bytes.data(), bytes.size(), path.string());
  if (!image) throw ImageDecodeError(path.string() + ": not a JPEG (YCbCr, RGB or grayscale) or PNG image, the formats read here");
  return std::move(*image);
}

}  // namespace tervit::image
