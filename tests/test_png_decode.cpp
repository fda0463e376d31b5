// The PNG decoder against OpenCV's (what decode_image used for PNGs before, and what the data pipeline's
// pixels are checked against): every colour type, bit depth, palette transparency and interlacing.
#include <catch2/catch.hpp>
#include <png.h>

#include <zlib.h>

#include <algorithm>
#include <array>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "tervit/image/image_errors.h"
#include "tervit/image/png_decode.h"

using tervit::image::decode_png_rgb;
using tervit::image::is_png;

namespace {

// OpenCV's decode with the conversions decode_image applies to it: 16-bit scaled by 1/257, gray expanded,
// BGR(A) to RGB with alpha dropped.
cv::Mat opencv_rgb(const std::vector<uint8_t>& bytes) {
  cv::Mat decoded = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
  REQUIRE(!decoded.empty());
  if (decoded.depth() == CV_16U) decoded.convertTo(decoded, CV_8U, 1.0 / 257.0);
  cv::Mat rgb;
  const int codes[] = {0, cv::COLOR_GRAY2RGB, 0, cv::COLOR_BGR2RGB, cv::COLOR_BGRA2RGB};
  cv::cvtColor(decoded, rgb, codes[decoded.channels()]);
  return rgb;
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

void append_bytes(png_structp png, png_bytep data, png_size_t count) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + count);
}

// A PNG of the given kind written by libpng itself, for what cv::imencode cannot write (palettes,
// transparency, 1-4 bit gray, interlacing). `rows` holds each row's packed bytes.
std::vector<uint8_t> write_png(int width, int height, int color_type, int bit_depth, bool interlaced,
                               const std::vector<std::vector<uint8_t>>& rows, const std::vector<png_color>& palette = {},
                               const std::vector<uint8_t>& transparency = {}) {
  std::vector<uint8_t> bytes;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &bytes, append_bytes, nullptr);
  png_set_IHDR(png, info, width, height, bit_depth, color_type, interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!palette.empty()) png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
  if (!transparency.empty())
    png_set_tRNS(png, info, transparency.data(), static_cast<int>(transparency.size()), nullptr);
  png_write_info(png, info);
  std::vector<png_bytep> pointers;
  for (const auto& row : rows) pointers.push_back(const_cast<png_bytep>(row.data()));
  png_write_image(png, pointers.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return bytes;
}

std::vector<std::vector<uint8_t>> random_rows(int height, size_t row_bytes, int bound = 256) {
  std::vector<std::vector<uint8_t>> rows(height, std::vector<uint8_t>(row_bytes));
  cv::RNG rng(7);
  for (auto& row : rows)
    for (auto& b : row) b = static_cast<uint8_t>(rng.uniform(0, bound));
  return rows;
}

}  // namespace

TEST_CASE("decode_png_rgb gives OpenCV's pixels for every kind of PNG", "[data]") {
  // What cv::imencode writes: 8- and 16-bit gray, BGR and BGRA, at odd sizes.
  for (const int type : {CV_8UC1, CV_16UC1, CV_8UC3, CV_16UC3, CV_8UC4, CV_16UC4}) {
    CAPTURE(type);
    cv::Mat image(13, 21, type);
    cv::randu(image, 0, CV_MAT_DEPTH(type) == CV_8U ? 256 : 65536);
    std::vector<uint8_t> bytes;
    REQUIRE(cv::imencode(".png", image, bytes));
    REQUIRE(is_png(bytes.data(), bytes.size()));
    CHECK(same_pixels(decode_png_rgb(bytes.data(), bytes.size(), "t.png"), opencv_rgb(bytes)));
  }
  // What only libpng writes here: a palette with and without transparency, 1-, 2- and 4-bit gray, gray +
  // alpha, gray with a transparent value, each also interlaced.
  const std::vector<png_color> palette{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
  for (const bool interlaced : {false, true}) {
    CAPTURE(interlaced);
    const int width = 11, height = 9;
    struct Kind {
      int color_type, bit_depth;
      size_t row_bytes;
      int bound;
      std::vector<png_color> palette;
      std::vector<uint8_t> transparency;
    };
    const Kind kinds_to_check[] = {
        {PNG_COLOR_TYPE_PALETTE, 8, width, 4, palette, {}},
        {PNG_COLOR_TYPE_PALETTE, 8, width, 4, palette, {0, 128}},
        {PNG_COLOR_TYPE_PALETTE, 2, (width * 2 + 7) / 8, 256, palette, {}},
        {PNG_COLOR_TYPE_GRAY, 1, (width + 7) / 8, 256, {}, {}},
        {PNG_COLOR_TYPE_GRAY, 2, (width * 2 + 7) / 8, 256, {}, {}},
        {PNG_COLOR_TYPE_GRAY, 4, (width * 4 + 7) / 8, 256, {}, {}},
        {PNG_COLOR_TYPE_GRAY_ALPHA, 8, width * 2, 256, {}, {}},
        {PNG_COLOR_TYPE_GRAY_ALPHA, 16, width * 4, 256, {}, {}},
        {PNG_COLOR_TYPE_RGB, 16, width * 6, 256, {}, {}},
    };
    for (const auto& kind : kinds_to_check) {
      CAPTURE(kind.color_type, kind.bit_depth, kind.transparency.size());
      const auto bytes = write_png(width, height, kind.color_type, kind.bit_depth, interlaced,
                                   random_rows(height, kind.row_bytes, kind.bound), kind.palette, kind.transparency);
      CHECK(same_pixels(decode_png_rgb(bytes.data(), bytes.size(), "t.png"), opencv_rgb(bytes)));
    }
  }
}

TEST_CASE("decode_png_rgb rejects broken PNGs naming them", "[data]") {
  cv::Mat noise(32, 32, CV_8UC3);
  cv::randu(noise, 0, 256);
  std::vector<uint8_t> whole;
  REQUIRE(cv::imencode(".png", noise, whole));
  auto truncated = whole;
  truncated.resize(whole.size() / 2);
  auto no_end = whole;
  no_end.resize(whole.size() - 12);  // IEND is the last 12 bytes
  auto corrupt = whole;
  corrupt[whole.size() / 2] ^= 0x55;  // inside the image data: its CRC no longer matches
  // A valid PNG whose header (CRC recomputed) announces 65536 x 65536 pixels, over the decompression-bomb limit.
  auto huge = whole;
  for (const int at : {16, 20}) std::copy_n(std::array<uint8_t, 4>{0, 1, 0, 0}.data(), 4, huge.begin() + at);  // big-endian
  const uLong crc = crc32(0, huge.data() + 12, 17);  // over the chunk type and its 13 bytes
  for (int i = 0; i < 4; ++i) huge[29 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  for (const auto& [name, bytes] : {std::make_pair("truncated.png", truncated), std::make_pair("no_end.png", no_end),
                                    std::make_pair("corrupt.png", corrupt), std::make_pair("huge.png", huge)}) {
    CAPTURE(name);
    CHECK_THROWS_AS(decode_png_rgb(bytes.data(), bytes.size(), name), tervit::image::ImageDecodeError);
    CHECK_THROWS_WITH(decode_png_rgb(bytes.data(), bytes.size(), name), Catch::Contains(name));
  }
  CHECK_THROWS_WITH(decode_png_rgb(huge.data(), huge.size(), "huge.png"), Catch::Contains("over the limit"));
  CHECK_FALSE(is_png(whole.data(), 7));
}
