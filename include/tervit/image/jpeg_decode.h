#pragma once
// JPEG straight through libjpeg-turbo into 8-bit RGB, whole or only a region. RandomResizedCrop needs on
// average about half of a training image: outside the region libjpeg-turbo skips the inverse DCT,
// upsampling and colour conversion, and decoding stops after the region's last row. The pixels are those
// of a full decode (OpenCV's and PIL's: the same library with its default settings), not an approximation.
#include <cstddef>
#include <cstdint>
#include <opencv2/core.hpp>
#include <optional>
#include <string>

namespace tervit::image {

// True when the data starts with a JPEG start-of-image marker.
bool is_jpeg(const uint8_t* bytes, size_t size);

// The image size from the JPEG header alone, or nullopt for data this decoder leaves to OpenCV: not a
// JPEG, or a colour space other than YCbCr, RGB and grayscale (CMYK, YCCK). Throws ImageDecodeError
// naming `name` for a JPEG whose header is corrupt or unsupported (e.g. 12-bit samples).
std::optional<cv::Size> jpeg_rgb_size(const uint8_t* bytes, size_t size, const std::string& name);

// Decodes `region` of a JPEG accepted by jpeg_rgb_size into CV_8UC3 RGB, equal to the same region of the
// full image. Throws ImageDecodeError naming `name` for corrupt data, tervit::Error for a region outside
// the image.
cv::Mat decode_jpeg_rgb(const uint8_t* bytes, size_t size, const cv::Rect& region, const std::string& name);

}  // namespace tervit::image
