#include "tervit/data/image_decode.h"

#include <limits>
#include <optional>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "tervit/core/error.h"
#include "tervit/core/file_bytes.h"
#include "tervit/data/jpeg_decode.h"

namespace tervit::data {
namespace {

// libjpeg decodes a truncated JPEG "successfully" (grey lower part, a warning on stderr only), so a
// JPEG must end with the end-of-image marker; some writers pad after it with zeros or whitespace.
bool jpeg_has_end_marker(const uint8_t* bytes, size_t size) {
  auto is_padding = [](uint8_t b) { return b == 0x00 || b == ' ' || b == '\n' || b == '\r' || b == '\t'; };
  while (size > 0 && is_padding(bytes[size - 1])) --size;
  return size >= 4 && bytes[size - 2] == 0xFF && bytes[size - 1] == 0xD9;
}

cv::Mat to_8bit(const cv::Mat& image, const std::string& name) {
  switch (image.depth()) {
    case CV_8U:
      return image;
    case CV_16U: {
      // round(v / 257) maps 0..65535 onto 0..255 exactly (PIL would clip to 255 instead).
      cv::Mat out;
      image.convertTo(out, CV_8U, 1.0 / 257.0);
      return out;
    }
    default:
      throw ImageDecodeError(name + ": unsupported pixel depth (only 8- and 16-bit images are supported)");
  }
}

// Drops alpha without compositing, as PIL's convert('RGB') does.
cv::Mat to_rgb(const cv::Mat& image8, const std::string& name) {
  cv::Mat rgb;
  switch (image8.channels()) {
    case 1:
      cv::cvtColor(image8, rgb, cv::COLOR_GRAY2RGB);
      break;
    case 2: {  // gray + alpha (TIFF; OpenCV expands gray+alpha PNGs to BGRA itself)
      cv::Mat gray;
      cv::extractChannel(image8, gray, 0);
      cv::cvtColor(gray, rgb, cv::COLOR_GRAY2RGB);
      break;
    }
    case 3:
      cv::cvtColor(image8, rgb, cv::COLOR_BGR2RGB);
      break;
    case 4:
      cv::cvtColor(image8, rgb, cv::COLOR_BGRA2RGB);
      break;
    default:
      throw ImageDecodeError(name + ": unsupported number of channels (" + std::to_string(image8.channels()) + ")");
  }
  return rgb;
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

cv::Mat decode_image(const uint8_t* bytes, size_t size, const std::string& name) {
  check_encoded_image(bytes, size, name);
  // libjpeg-turbo writes RGB directly; OpenCV would decode to BGR and swap twice.
  if (const std::optional<cv::Size> jpeg = jpeg_rgb_size(bytes, size, name)) {
    return decode_jpeg_rgb(bytes, size, cv::Rect(cv::Point(0, 0), *jpeg), name);
  }
  cv::Mat decoded;
  try {
    // UNCHANGED keeps 16-bit depth visible (so it can be scaled, not clipped) and ignores EXIF
    // orientation like PIL; CMYK and palette images still come out as BGR(A).
    const cv::Mat buffer(1, static_cast<int>(size), CV_8UC1, const_cast<uint8_t*>(bytes));
    decoded = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw ImageDecodeError(name + ": cannot decode image: " + e.what());
  }
  if (decoded.empty()) {
    throw ImageDecodeError(name + ": not a decodable image (corrupt, truncated or unsupported format)");
  }
  return to_rgb(to_8bit(decoded, name), name);
}

cv::Mat read_image(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image(bytes.data(), bytes.size(), path.string());
}

}  // namespace tervit::data
