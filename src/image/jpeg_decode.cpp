#include "tervit/image/jpeg_decode.h"

// jpeglib.h needs size_t and FILE declared before it.
#include <csetjmp>
#include <cstdio>
#include <jpeglib.h>

#include <algorithm>

#include "tervit/core/error.h"
#include "tervit/image/image_errors.h"

namespace tervit::image {
namespace {

// Fancy (smooth) chroma upsampling treats the left and right ends of a cropped scanline as image edges
// (libjpeg.txt, "Partial image decompression"), which changes the outermost pixels; decoding 16 more
// pixels on each side (the widest iMCU of 8x8 blocks) keeps the wanted columns exact.
constexpr int kCropMargin = 16;

// libjpeg reports a fatal error through error_exit, which must not return: it jumps back to the caller's
// setjmp, which throws. Only C frames lie between the two, so no C++ destructor is skipped.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jump_on_error(j_common_ptr cinfo) {
  auto* manager = reinterpret_cast<ErrorManager*>(cinfo->err);
  cinfo->err->format_message(cinfo, manager->message);
  std::longjmp(manager->jump, 1);
}

// Warnings (e.g. corrupt entropy data) do not stop decoding, as in OpenCV and PIL; they are not printed.
void ignore_message(j_common_ptr) {}

// Owns a decompressor. Create it, then setjmp, then open(): an error inside jpeg_create_decompress must
// already find the jump target.
struct Decompressor {
  Decompressor() {
    cinfo.err = jpeg_std_error(&errors.pub);
    errors.pub.error_exit = jump_on_error;
    errors.pub.output_message = ignore_message;
  }
  // Also safe before open(): jpeg_destroy ignores a decompressor without memory manager.
  ~Decompressor() { jpeg_destroy_decompress(&cinfo); }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  void open(const uint8_t* bytes, size_t size) {
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(size));
    jpeg_read_header(&cinfo, TRUE);
  }

  jpeg_decompress_struct cinfo{};
  ErrorManager errors{};
};

// libjpeg converts these to RGB exactly as OpenCV's decoder does; CMYK and YCCK are left to OpenCV,
// whose conversion to RGB is the reference for them.
bool converts_to_rgb(const jpeg_decompress_struct& cinfo) {
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
      return cinfo.num_components == 1;
    case JCS_YCbCr:
    case JCS_RGB:
      return cinfo.num_components == 3;
    default:
      return false;
  }
}

}  // namespace

bool is_jpeg(const uint8_t* bytes, size_t size) {
  return size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

std::optional<cv::Size> jpeg_rgb_size(const uint8_t* bytes, size_t size, const std::string& name) {
  if (!is_jpeg(bytes, size)) return std::nullopt;
  Decompressor decompressor;
  if (setjmp(decompressor.errors.jump)) {
    throw ImageDecodeError(name + ": cannot read JPEG header: " + decompressor.errors.message);
  }
  decompressor.open(bytes, size);
  // Before OpenCV is left a CMYK image too: it would allocate whatever the header claims.
  check_image_pixels(decompressor.cinfo.image_width, decompressor.cinfo.image_height, name, "JPEG");
  if (!converts_to_rgb(decompressor.cinfo)) return std::nullopt;
  return cv::Size(static_cast<int>(decompressor.cinfo.image_width), static_cast<int>(decompressor.cinfo.image_height));
}

cv::Mat decode_jpeg_rgb(const uint8_t* bytes, size_t size, const cv::Rect& region, const std::string& name) {
  Decompressor decompressor;
  cv::Mat rows;  // created before setjmp, so a jump leaves it to its destructor
  if (setjmp(decompressor.errors.jump)) {
    throw ImageDecodeError(name + ": cannot decode JPEG: " + decompressor.errors.message);
  }
  decompressor.open(bytes, size);
  jpeg_decompress_struct& cinfo = decompressor.cinfo;
  check_image_pixels(cinfo.image_width, cinfo.image_height, name, "JPEG");
  if (!converts_to_rgb(cinfo)) throw Error(name + ": JPEG colour space not decodable to RGB by libjpeg");
  const int width = static_cast<int>(cinfo.image_width);
  const int height = static_cast<int>(cinfo.image_height);
  if (region.empty() || (region & cv::Rect(0, 0, width, height)) != region) {
    throw Error(name + ": region " + std::to_string(region.width) + "x" + std::to_string(region.height) + "+" +
                std::to_string(region.x) + "+" + std::to_string(region.y) + " is outside the " + std::to_string(width) +
                "x" + std::to_string(height) + " image");
  }
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);

  auto left = static_cast<JDIMENSION>(std::max(region.x - kCropMargin, 0));
  auto columns = static_cast<JDIMENSION>(std::min(region.x + region.width + kCropMargin, width)) - left;
  // Moves left to an iMCU boundary and widens columns to match.
  if (static_cast<int>(columns) < width) jpeg_crop_scanline(&cinfo, &left, &columns);
  if (region.y > 0) jpeg_skip_scanlines(&cinfo, static_cast<JDIMENSION>(region.y));
  rows.create(region.height, static_cast<int>(cinfo.output_width), CV_8UC3);
  for (int y = 0; y < region.height;) {
    JSAMPROW row = rows.ptr<uint8_t>(y);
    const JDIMENSION read = jpeg_read_scanlines(&cinfo, &row, 1);
    if (read == 0) throw ImageDecodeError(name + ": JPEG ended before its last row");
    y += static_cast<int>(read);
  }
  // The rows below the region are never decoded: the destructor aborts the decompression.
  return rows(cv::Rect(region.x - static_cast<int>(left), 0, region.width, region.height));
}

}  // namespace tervit::image
