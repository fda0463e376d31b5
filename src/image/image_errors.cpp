#include "tervit/image/image_errors.h"

namespace tervit::image {

void check_image_pixels(uint64_t width, uint64_t height, const std::string& name, const std::string& format) {
  if (width * height > kMaxImagePixels)
    throw ImageDecodeError(name + ": " + format + " of " + std::to_string(width) + "x" + std::to_string(height) +
                           " pixels is over the limit of " + std::to_string(kMaxImagePixels) +
                           " pixels (PIL's decompression-bomb limit): refused before decoding");
}

}  // namespace tervit::image
