#include "tervit/data/encoded_image.h"

#include <optional>
#include <utility>

#include "tervit/core/error.h"
#include "tervit/core/file_bytes.h"
#include "tervit/data/image_decode.h"
#include "tervit/image/jpeg_decode.h"

namespace tervit::data {

EncodedImage::EncodedImage(std::vector<uint8_t> bytes, std::string name) : bytes_(std::move(bytes)), name_(std::move(name)) {
  image::check_encoded_image(bytes_.data(), bytes_.size(), name_);
  if (const std::optional<cv::Size> jpeg = image::jpeg_rgb_size(bytes_.data(), bytes_.size(), name_)) {
    size_ = *jpeg;
  } else {
    decoded_ = decode_image(bytes_.data(), bytes_.size(), name_);
    size_ = decoded_.size();
    bytes_ = {};  // no longer needed
  }
}

EncodedImage EncodedImage::read(const std::filesystem::path& path) { return {read_file_bytes(path), path.string()}; }

cv::Mat EncodedImage::decode() const { return decode(cv::Rect(cv::Point(0, 0), size_)); }

cv::Mat EncodedImage::decode(const cv::Rect& region) const {
  if (region.empty() || (region & cv::Rect(cv::Point(0, 0), size_)) != region) {
    throw Error(name_ + ": cannot decode region " + std::to_string(region.width) + "x" + std::to_string(region.height) +
                "+" + std::to_string(region.x) + "+" + std::to_string(region.y) + ", outside the " +
                std::to_string(size_.width) + "x" + std::to_string(size_.height) + " image");
  }
  if (!decoded_.empty()) return decoded_(region).clone();
  return image::decode_jpeg_rgb(bytes_.data(), bytes_.size(), region, name_);
}

}  // namespace tervit::data
