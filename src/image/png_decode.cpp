#include "tervit/image/png_decode.h"

#include <png.h>

#include <csetjmp>
#include <cstring>
#include <vector>

#include "tervit/image/image_errors.h"

namespace tervit::image {
namespace {

// libpng reports a fatal error through the error callback, which must not return: it stores the message
// and jumps back to the caller's setjmp, which throws. Only C frames lie between the two.
struct Reader {
  const uint8_t* bytes;
  size_t size;
  size_t offset;
  char message[256];
};

[[noreturn]] void jump_on_error(png_structp png, png_const_charp message) {
  auto* reader = static_cast<Reader*>(png_get_error_ptr(png));
  std::strncpy(reader->message, message, sizeof(reader->message) - 1);
  png_longjmp(png, 1);
}

void ignore_warning(png_structp, png_const_charp) {}

void read_bytes(png_structp png, png_bytep out, png_size_t count) {
  auto* reader = static_cast<Reader*>(png_get_io_ptr(png));
  if (count > reader->size - reader->offset) png_error(png, "file ends early (truncated PNG)");
  std::memcpy(out, reader->bytes + reader->offset, count);
  reader->offset += count;
}

// Owns libpng's read and info structures.
struct Decoder {
  explicit Decoder(Reader& reader)
      : png(png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, jump_on_error, ignore_warning)),
        info(png ? png_create_info_struct(png) : nullptr) {
    if (png) png_set_read_fn(png, &reader, read_bytes);
  }
  ~Decoder() { png_destroy_read_struct(&png, &info, nullptr); }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  png_structp png;
  png_infop info;
};

// One sample of a decoded row at 8 bits: 16-bit samples are big-endian; round(v / 257), as
// cv::Mat::convertTo(CV_8U, 1 / 257.0) computes it (v / 257 is never exactly half way).
uint8_t sample8(const uint8_t* row, int64_t index, int depth) {
  if (depth == 8) return row[index];
  const unsigned value = (unsigned{row[2 * index]} << 8) | row[2 * index + 1];
  return static_cast<uint8_t>((value + 128) / 257);
}

}  // namespace

bool is_png(const uint8_t* bytes, size_t size) { return size >= 8 && png_sig_cmp(bytes, 0, 8) == 0; }

cv::Mat decode_png_rgb(const uint8_t* bytes, size_t size, const std::string& name) {
  Reader reader{bytes, size, 0, {}};
  Decoder decoder(reader);
  if (!decoder.png || !decoder.info) throw ImageDecodeError(name + ": cannot start the PNG decoder");
  // Created before setjmp, so that a jump leaves them to their destructors; libpng only writes into them.
  std::vector<uint8_t> pixels;
  std::vector<png_bytep> rows;
  png_uint_32 width = 0, height = 0;
  int depth = 0, channels = 0;
  if (setjmp(png_jmpbuf(decoder.png))) throw ImageDecodeError(name + ": cannot decode PNG: " + reader.message);
  png_read_info(decoder.png, decoder.info);
  width = png_get_image_width(decoder.png, decoder.info);
  height = png_get_image_height(decoder.png, decoder.info);
  check_image_pixels(width, height, name, "PNG");
  // Palettes to RGB (with tRNS, RGBA) and low-bit gray to 8 bits; 16-bit samples are kept and scaled here.
  png_set_expand(decoder.png);
  png_set_interlace_handling(decoder.png);
  png_read_update_info(decoder.png, decoder.info);
  depth = png_get_bit_depth(decoder.png, decoder.info);
  channels = png_get_channels(decoder.png, decoder.info);
  const size_t row_bytes = png_get_rowbytes(decoder.png, decoder.info);
  pixels.resize(row_bytes * height);
  rows.resize(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = pixels.data() + y * row_bytes;
  png_read_image(decoder.png, rows.data());
  png_read_end(decoder.png, nullptr);

  // Gray (and gray + alpha) to three equal channels; alpha dropped.
  cv::Mat rgb(static_cast<int>(height), static_cast<int>(width), CV_8UC3);
  const int color_channels = channels >= 3 ? 3 : 1;
  for (png_uint_32 y = 0; y < height; ++y) {
    uint8_t* out = rgb.ptr<uint8_t>(static_cast<int>(y));
    for (png_uint_32 x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        out[3 * x + c] = sample8(rows[y], int64_t{x} * channels + (color_channels == 3 ? c : 0), depth);
  }
  return rgb;
}

}  // namespace tervit::image
