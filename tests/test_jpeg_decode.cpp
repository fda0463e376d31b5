#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

// jpeglib.h needs size_t and FILE declared before it.
#include <jpeglib.h>

#include "tervit/core/error.h"
#include "tervit/data/image_decode.h"
#include "tervit/image/jpeg_decode.h"
#include "tervit/data/random.h"
#include "test_helpers.h"

namespace fs = std::filesystem;
using namespace tervit::data;
using namespace tervit::image;

namespace {

const fs::path kFixtures = fs::path(__FILE__).parent_path() / "fixtures";
constexpr int kWidth = 237;
constexpr int kHeight = 157;

struct Encoding {
  std::string name;
  int h_samp = 2;  // luma sampling factors: 2x2 is 4:2:0, 2x1 4:2:2, 1x1 4:4:4
  int v_samp = 2;
  bool progressive = false;
  int restart_rows = 0;  // restart marker every so many MCU rows
  bool gray = false;
};

// The chroma layouts and scan structures libjpeg decodes differently: 4:2:0 / 4:2:2 use fancy upsampling
// (4:2:0 with context rows), progressive files are decoded from buffered coefficients, restart markers resync.
const std::vector<Encoding>& encodings() {
  static const std::vector<Encoding> all{
      {"4:2:0", 2, 2},          {"4:2:2", 2, 1},           {"4:4:4", 1, 1},          {"4:4:0", 1, 2},
      {"progressive", 2, 2, true}, {"restart markers", 2, 2, false, 2}, {"grayscale", 1, 1, false, 0, true},
  };
  return all;
}

// OpenCV 4.6 cannot choose the chroma subsampling, so the test writes its JPEGs with libjpeg itself.
std::vector<uint8_t> encode_jpeg(const cv::Mat& rgb, const Encoding& encoding) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr errors{};
  cinfo.err = jpeg_std_error(&errors);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(rgb.cols);
  cinfo.image_height = static_cast<JDIMENSION>(rgb.rows);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 90, TRUE);
  if (encoding.gray) jpeg_set_colorspace(&cinfo, JCS_GRAYSCALE);
  cinfo.comp_info[0].h_samp_factor = encoding.h_samp;
  cinfo.comp_info[0].v_samp_factor = encoding.v_samp;
  if (encoding.progressive) jpeg_simple_progression(&cinfo);
  cinfo.restart_in_rows = encoding.restart_rows;
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(rgb.ptr<uint8_t>(static_cast<int>(cinfo.next_scanline)));
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::vector<uint8_t> bytes(buffer, buffer + size);
  std::free(buffer);
  return bytes;
}

// A real photo with odd sizes (partial iMCUs at the right and bottom edges).
std::vector<uint8_t> photo_jpeg(const Encoding& encoding) {
  const cv::Mat rgb = read_image(kFixtures / "pil_resize" / "coffee.png");
  return encode_jpeg(rgb(cv::Rect(1, 2, kWidth, kHeight)).clone(), encoding);
}

// OpenCV's decode, the reference the pipeline used before (and PIL's: the same libjpeg-turbo defaults).
cv::Mat opencv_rgb(const std::vector<uint8_t>& bytes) {
  const cv::Mat decoded = cv::imdecode(bytes, cv::IMREAD_COLOR);
  REQUIRE(!decoded.empty());
  cv::Mat rgb;
  cv::cvtColor(decoded, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

bool identical(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

}  // namespace

TEST_CASE("decode_jpeg_rgb of the whole image equals OpenCV's decode", "[data]") {
  for (const Encoding& encoding : encodings()) {
    INFO(encoding.name);
    const std::vector<uint8_t> bytes = photo_jpeg(encoding);
    const std::optional<cv::Size> size = jpeg_rgb_size(bytes.data(), bytes.size(), "photo.jpg");
    REQUIRE(size);
    CHECK(*size == cv::Size(kWidth, kHeight));
    const cv::Mat full = decode_jpeg_rgb(bytes.data(), bytes.size(), cv::Rect(0, 0, kWidth, kHeight), "photo.jpg");
    REQUIRE(full.type() == CV_8UC3);
    CHECK(identical(full, opencv_rgb(bytes)));
    CHECK(identical(decode_image(bytes.data(), bytes.size(), "photo.jpg"), full));
  }
}

TEST_CASE("decode_jpeg_rgb of a region equals the region of the full decode, pixel for pixel", "[data]") {
  Rng rng(11);
  for (const Encoding& encoding : encodings()) {
    INFO(encoding.name);
    const std::vector<uint8_t> bytes = photo_jpeg(encoding);
    const cv::Mat full = opencv_rgb(bytes);
    // Corners, single rows and columns, iMCU boundaries, then random boxes.
    std::vector<cv::Rect> regions{{0, 0, 1, 1},       {kWidth - 1, kHeight - 1, 1, 1}, {0, 0, kWidth, 1},
                                  {0, kHeight - 1, kWidth, 1}, {17, 0, 1, kHeight},   {15, 15, 2, 2},
                                  {16, 16, 16, 16},   {0, 100, kWidth, kHeight - 100}, {200, 0, kWidth - 200, kHeight},
                                  {31, 33, 190, 120}};
    for (int i = 0; i < 150; ++i) {
      const int w = static_cast<int>(uniform_int(rng, 1, kWidth));
      const int h = static_cast<int>(uniform_int(rng, 1, kHeight));
      regions.emplace_back(static_cast<int>(uniform_int(rng, 0, kWidth - w)),
                           static_cast<int>(uniform_int(rng, 0, kHeight - h)), w, h);
    }
    for (const cv::Rect& region : regions) {
      INFO("region " << region);
      const cv::Mat part = decode_jpeg_rgb(bytes.data(), bytes.size(), region, "photo.jpg");
      REQUIRE(identical(part, full(region)));
    }
  }
}

TEST_CASE("jpeg_rgb_size leaves other formats and CMYK to OpenCV and rejects broken headers", "[data]") {
  const cv::Mat red(4, 6, CV_8UC3, cv::Scalar(0, 0, 255));
  std::vector<uint8_t> png;
  REQUIRE(cv::imencode(".png", red, png));
  CHECK_FALSE(jpeg_rgb_size(png.data(), png.size(), "red.png"));
  CHECK_FALSE(is_jpeg(png.data(), png.size()));

  const std::vector<uint8_t> cmyk_bytes = tervit::testing::read_bytes(kFixtures / "images" / "cmyk.jpg");
  CHECK(is_jpeg(cmyk_bytes.data(), cmyk_bytes.size()));
  CHECK_FALSE(jpeg_rgb_size(cmyk_bytes.data(), cmyk_bytes.size(), "cmyk.jpg"));

  std::vector<uint8_t> header_only = photo_jpeg(encodings().front());
  header_only.resize(40);
  CHECK_THROWS_WITH(jpeg_rgb_size(header_only.data(), header_only.size(), "cut.jpg"), Catch::Contains("cut.jpg"));
}

TEST_CASE("decode_jpeg_rgb rejects regions outside the image and corrupt data", "[data]") {
  const std::vector<uint8_t> bytes = photo_jpeg(encodings().front());
  for (const cv::Rect& region : {cv::Rect(0, 0, kWidth + 1, 10), cv::Rect(-1, 0, 5, 5), cv::Rect(0, kHeight - 1, 5, 2),
                               cv::Rect(4, 4, 0, 3)}) {
    INFO("region " << region);
    CHECK_THROWS_WITH(decode_jpeg_rgb(bytes.data(), bytes.size(), region, "photo.jpg"),
                      Catch::Contains("photo.jpg") && Catch::Contains("outside"));
  }
  std::vector<uint8_t> broken = bytes;
  broken[1] = 0x00;  // no start-of-image marker
  CHECK_THROWS_WITH(decode_jpeg_rgb(broken.data(), broken.size(), cv::Rect(0, 0, 5, 5), "broken.jpg"),
                    Catch::Contains("broken.jpg"));
}

TEST_CASE("JPEG headers claiming more pixels than the decompression-bomb limit are refused before decoding", "[data]") {
  // The encoding's start-of-frame header (baseline SOF0 or progressive SOF2) rewritten to claim 60000 x 60000
  // pixels: a few kilobytes of file, 10.8 GB of RGB.
  for (const auto& encoding : {encodings().front(), encodings()[4]}) {
    INFO(encoding.name);
    auto bomb = photo_jpeg(encoding);
    tervit::testing::claim_jpeg_size(bomb, 60000, 60000);
    CHECK_THROWS_AS(jpeg_rgb_size(bomb.data(), bomb.size(), "bomb.jpg"), tervit::image::ImageDecodeError);
    CHECK_THROWS_WITH(jpeg_rgb_size(bomb.data(), bomb.size(), "bomb.jpg"),
                      Catch::Contains("bomb.jpg") && Catch::Contains("60000x60000") && Catch::Contains("over the limit"));
    CHECK_THROWS_WITH(decode_jpeg_rgb(bomb.data(), bomb.size(), cv::Rect(0, 0, 5, 5), "bomb.jpg"), Catch::Contains("over the limit"));
  }
}
