#include "tervit/data/image_decode.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "tervit/core/error.h"
#include "tervit/core/file_bytes.h"
#include "tervit/image/direct_decode.h"
#include "tervit/image/header_size.h"
#include "tervit/image/image_errors.h"

namespace tervit::data {
namespace {

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
      throw image::ImageDecodeError(name + ": unsupported pixel depth (only 8- and 16-bit images are supported)");
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
      throw image::ImageDecodeError(name + ": unsupported number of channels (" + std::to_string(image8.channels()) + ")");
  }
  return rgb;
}

}  // namespace

cv::Mat decode_image(const uint8_t* bytes, size_t size, const std::string& name) {
  // JPEG and PNG straight to RGB; OpenCV would decode to BGR and swap twice.
  if (auto image = image::decode_directly(bytes, size, name)) return std::move(*image);
  if (const auto claimed = image::header_size(bytes, size)) image::check_image_pixels(claimed->width, claimed->height, name, claimed->format);
  cv::Mat decoded;
  try {
    // UNCHANGED keeps 16-bit depth visible (so it can be scaled, not clipped) and ignores EXIF
    // orientation like PIL; CMYK images still come out as BGR(A).
    const cv::Mat buffer(1, static_cast<int>(size), CV_8UC1, const_cast<uint8_t*>(bytes));
    decoded = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw image::ImageDecodeError(name + ": cannot decode image: " + e.what());
  }
  if (decoded.empty()) {
    throw image::ImageDecodeError(name + ": not a decodable image (corrupt, truncated or unsupported format)");
  }
  return to_rgb(to_8bit(decoded, name), name);
}

cv::Mat read_image(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image(bytes.data(), bytes.size(), path.string());
}

}  // namespace tervit::data
