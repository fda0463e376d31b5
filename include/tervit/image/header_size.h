#pragma once
// The pixel size an image file's header claims, read without decoding, for the formats OpenCV decodes
// (BMP, PNM, TIFF, WebP): so that a file of a few bytes claiming gigapixels is refused before OpenCV
// allocates them (its own limit is 2^30 pixels, read from the environment before main runs).
#include <cstddef>
#include <cstdint>
#include <optional>

namespace tervit::image {

struct HeaderSize {
  uint64_t width = 0;
  uint64_t height = 0;
  const char* format = "";
};

// nullopt when the bytes are none of these formats or their header is too short to say.
std::optional<HeaderSize> header_size(const uint8_t* bytes, size_t size);

}  // namespace tervit::image
