#pragma once
#include <cstdint>
#include <string>

#include "tervit/core/error.h"

namespace tervit::image {

// Data that is not a decodable image (empty, truncated, corrupt, unknown format). A tervit::Error, so that
// callers may tell bad data apart from other errors: the loader skips bad files but stops on a bug.
class ImageDecodeError : public Error {
 public:
  using Error::Error;
};

// The most pixels a decoder accepts by default: PIL's decompression-bomb limit (twice
// Image.MAX_IMAGE_PIXELS, where PIL raises rather than warns), so that a file of a few hundred bytes whose
// header claims 60000x60000 pixels fails as timm's pipeline fails, before gigabytes are allocated.
constexpr uint64_t kDefaultMaxImagePixels = 178956970;

// The limit in force: the environment variable TERVIT_MAX_IMAGE_PIXELS where set (read once; a data set
// of larger scans may need more), else kDefaultMaxImagePixels. Throws tervit::Error naming the variable
// when it is not a positive integer.
uint64_t max_image_pixels();

// Throws ImageDecodeError naming `name`, the format and the size when width x height exceeds max_image_pixels().
void check_image_pixels(uint64_t width, uint64_t height, const std::string& name, const std::string& format);

}  // namespace tervit::image
