#pragma once
// The image formats tervit decodes itself, straight into 8-bit RGB: JPEG through libjpeg-turbo (YCbCr, RGB
// and grayscale; jpeg_decode.h) and PNG through libpng (png_decode.h). Without OpenCV's imgcodecs, whose
// codecs bring over a hundred shared libraries: the LibTorch-free runtime reads images through this alone.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <opencv2/core.hpp>
#include <optional>
#include <string>

#include "tervit/image/image_errors.h"

namespace tervit::image {

// The checks made before any decoding: empty data, over 2 GiB, or a JPEG without its end-of-image marker
// (libjpeg would decode a truncated file "successfully", grey below the cut). Throws ImageDecodeError.
void check_encoded_image(const uint8_t* bytes, size_t size, const std::string& name);

// CV_8UC3 RGB for a JPEG or PNG this decodes itself, after check_encoded_image; nullopt for other data
// (other formats, CMYK and YCCK JPEGs). Throws ImageDecodeError naming `name` for corrupt data.
std::optional<cv::Mat> decode_directly(const uint8_t* bytes, size_t size, const std::string& name);

// Reads a file and decodes it with decode_directly; any other format is an ImageDecodeError naming the
// path and the formats read.
cv::Mat read_image_directly(const std::filesystem::path& path);

}  // namespace tervit::image
