#include "tervit/image/image_errors.h"

#include <cerrno>
#include <cstdlib>

namespace tervit::image {

namespace {

constexpr const char* kLimitVariable = "TERVIT_MAX_IMAGE_PIXELS";

uint64_t limit_from_environment() {
  const char* text = std::getenv(kLimitVariable);
  if (text == nullptr || *text == '\0') return kDefaultMaxImagePixels;
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (*end != '\0' || errno != 0 || value == 0 || text[0] == '-')
    throw Error(std::string(kLimitVariable) + ": '" + text + "' is not a positive integer (a number of pixels)");
  return value;
}

}  // namespace

uint64_t max_image_pixels() {
  static const uint64_t limit = limit_from_environment();
  return limit;
}

void check_image_pixels(uint64_t width, uint64_t height, const std::string& name, const std::string& format) {
  const uint64_t limit = max_image_pixels();
  // Compared by division: a TIFF's two 32-bit sides would overflow a product.
  if (width != 0 && height > limit / width)
    throw ImageDecodeError(name + ": " + format + " of " + std::to_string(width) + "x" + std::to_string(height) +
                           " pixels is over the limit of " + std::to_string(limit) +
                           " pixels (PIL's decompression-bomb limit; " + kLimitVariable + " sets another): refused before decoding");
}

}  // namespace tervit::image
