#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "tervit/core/error.h"
#include "tervit/data/image_decode.h"
#include "tervit/image/header_size.h"
#include "tervit/image/image_errors.h"

namespace fs = std::filesystem;
using tervit::data::decode_image;
using tervit::data::read_image;

namespace {

const fs::path kImageFixtures = fs::path(__FILE__).parent_path() / "fixtures" / "images";

std::vector<uint8_t> encode(const cv::Mat& image, const std::string& ext, const std::vector<int>& params = {}) {
  std::vector<uint8_t> bytes;
  REQUIRE(cv::imencode(ext, image, bytes, params));
  return bytes;
}

cv::Mat decode(const std::vector<uint8_t>& bytes, const std::string& name = "test-image") {
  return decode_image(bytes.data(), bytes.size(), name);
}

// Largest per-channel distance of every pixel from one RGB colour.
int max_distance(const cv::Mat& rgb, const cv::Vec3b& expected) {
  int worst = 0;
  rgb.forEach<cv::Vec3b>([&](const cv::Vec3b& pixel, const int*) {
    for (int c = 0; c < 3; ++c) worst = std::max(worst, std::abs(pixel[c] - expected[c]));
  });
  return worst;
}

const cv::Scalar kRedBgr(0, 0, 255);
const cv::Vec3b kRedRgb(255, 0, 0);

}  // namespace

TEST_CASE("decode_image returns RGB for baseline and progressive JPEG", "[data]") {
  const cv::Mat red(16, 24, CV_8UC3, kRedBgr);
  const std::vector<uint8_t> baseline = encode(red, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 100});
  const std::vector<uint8_t> progressive =
      encode(red, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 100, cv::IMWRITE_JPEG_PROGRESSIVE, 1});
  const std::vector<uint8_t> sof2{0xFF, 0xC2};  // progressive start-of-frame marker
  REQUIRE(std::search(progressive.begin(), progressive.end(), sof2.begin(), sof2.end()) != progressive.end());

  for (const auto* bytes : {&baseline, &progressive}) {
    const cv::Mat rgb = decode(*bytes);
    REQUIRE(rgb.type() == CV_8UC3);
    REQUIRE(rgb.size() == cv::Size(24, 16));
    CHECK(max_distance(rgb, kRedRgb) <= 2);  // channel 0 is red: RGB, not OpenCV's BGR
  }
}

TEST_CASE("decode_image expands grayscale JPEG and CMYK JPEG like PIL", "[data]") {
  const cv::Mat gray(8, 8, CV_8UC1, cv::Scalar(77));
  const cv::Mat from_gray = decode(encode(gray, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 100}));
  REQUIRE(from_gray.type() == CV_8UC3);
  CHECK(max_distance(from_gray, cv::Vec3b(77, 77, 77)) <= 1);

  // Written by PIL (tools/make_pil_resize_fixture.py): left half CMYK (0,255,255,0), right (0,0,0,128);
  // PIL's convert('RGB') gives (255,0,0) and (127,127,127).
  const cv::Mat cmyk = read_image(kImageFixtures / "cmyk.jpg");
  REQUIRE(cmyk.type() == CV_8UC3);
  REQUIRE(cmyk.size() == cv::Size(16, 16));
  CHECK(max_distance(cmyk(cv::Rect(0, 0, 6, 16)), cv::Vec3b(255, 0, 0)) <= 2);
  CHECK(max_distance(cmyk(cv::Rect(10, 0, 6, 16)), cv::Vec3b(127, 127, 127)) <= 2);
}

TEST_CASE("decode_image scales 16-bit PNG to 8 bits with rounding", "[data]") {
  cv::Mat gray16(1, 5, CV_16UC1);
  const uint16_t values[] = {0, 65535, 32896, 33024, 33025};  // round(v / 257): 0, 255, 128, 128.498, 128.502
  for (int x = 0; x < 5; ++x) gray16.at<uint16_t>(0, x) = values[x];
  const cv::Mat gray = decode(encode(gray16, ".png"));
  REQUIRE(gray.type() == CV_8UC3);
  const uint8_t expected[] = {0, 255, 128, 128, 129};
  for (int x = 0; x < 5; ++x) CHECK(gray.at<cv::Vec3b>(0, x) == cv::Vec3b(expected[x], expected[x], expected[x]));

  const cv::Mat color16(2, 2, CV_16UC3, cv::Scalar(65535, 32896, 0));  // BGR
  const cv::Mat color = decode(encode(color16, ".png"));
  REQUIRE(color.type() == CV_8UC3);
  CHECK(max_distance(color, cv::Vec3b(0, 128, 255)) == 0);
}

TEST_CASE("decode_image drops alpha and expands palette and gray+alpha PNG", "[data]") {
  const cv::Mat bgra(3, 3, CV_8UC4, cv::Scalar(255, 0, 0, 10));  // blue, nearly transparent
  const cv::Mat from_rgba = decode(encode(bgra, ".png"));
  REQUIRE(from_rgba.type() == CV_8UC3);
  CHECK(max_distance(from_rgba, cv::Vec3b(0, 0, 255)) == 0);  // not composited onto any background

  const cv::Mat palette = read_image(kImageFixtures / "palette.png");
  REQUIRE(palette.type() == CV_8UC3);
  REQUIRE(palette.size() == cv::Size(4, 1));
  CHECK(palette.at<cv::Vec3b>(0, 0) == cv::Vec3b(255, 0, 0));
  CHECK(palette.at<cv::Vec3b>(0, 1) == cv::Vec3b(0, 255, 0));
  CHECK(palette.at<cv::Vec3b>(0, 2) == cv::Vec3b(0, 0, 255));
  CHECK(palette.at<cv::Vec3b>(0, 3) == cv::Vec3b(10, 20, 30));

  const cv::Mat gray_alpha = read_image(kImageFixtures / "gray_alpha.png");  // (40, opaque), (200, transparent)
  REQUIRE(gray_alpha.type() == CV_8UC3);
  CHECK(gray_alpha.at<cv::Vec3b>(0, 0) == cv::Vec3b(40, 40, 40));
  CHECK(gray_alpha.at<cv::Vec3b>(0, 1) == cv::Vec3b(200, 200, 200));
}

TEST_CASE("decode_image reads the lossless formats OpenCV can write", "[data]") {
  const cv::Mat red(5, 7, CV_8UC3, kRedBgr);
  for (const std::string ext : {".png", ".bmp", ".tiff", ".webp"}) {
    if (!cv::haveImageWriter(ext)) continue;
    INFO(ext);
    const cv::Mat rgb = decode(encode(red, ext, {cv::IMWRITE_WEBP_QUALITY, 101}));  // 101: lossless WebP
    REQUIRE(rgb.size() == cv::Size(7, 5));
    CHECK(max_distance(rgb, kRedRgb) == 0);
  }
}

TEST_CASE("decode_image accepts padding after the JPEG end marker", "[data]") {
  std::vector<uint8_t> padded = encode(cv::Mat(8, 8, CV_8UC3, kRedBgr), ".jpg");
  padded.insert(padded.end(), {0x00, 0x00, '\n'});
  CHECK(max_distance(decode(padded), kRedRgb) <= 3);
}

TEST_CASE("decode_image and read_image reject broken data naming the file", "[data]") {
  cv::Mat noise(64, 64, CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(256));
  std::vector<uint8_t> half_jpeg = encode(noise, ".jpg");
  half_jpeg.resize(half_jpeg.size() / 2);
  std::vector<uint8_t> half_png = encode(noise, ".png");
  half_png.resize(half_png.size() / 2);
  const std::string text = "this is not an image";
  const std::vector<uint8_t> not_image(text.begin(), text.end());
  const std::vector<uint8_t> empty;

  const std::vector<std::pair<std::string, const std::vector<uint8_t>*>> cases{
      {"empty.jpg", &empty}, {"notes.jpg", &not_image}, {"half.jpg", &half_jpeg}, {"half.png", &half_png}};
  for (const auto& [name, bytes] : cases) {
    INFO(name);
    CHECK_THROWS_AS(decode(*bytes, name), tervit::Error);
    CHECK_THROWS_WITH(decode(*bytes, name), Catch::Contains(name));
  }
  CHECK_THROWS_AS(read_image("/nonexistent/missing.png"), tervit::Error);
  CHECK_THROWS_WITH(read_image("/nonexistent/missing.png"), Catch::Contains("missing.png"));
}

TEST_CASE("The headers of OpenCV's formats give their size, and a bomb in each is refused before decoding", "[data][hostile]") {
  const cv::Mat red(5, 7, CV_8UC3, kRedBgr);
  for (const std::string ext : {".bmp", ".tiff", ".webp", ".ppm", ".pgm"}) {
    if (!cv::haveImageWriter(ext)) continue;
    INFO(ext);
    const auto bytes = encode(ext == ".pgm" ? cv::Mat(5, 7, CV_8UC1, cv::Scalar(3)) : red, ext);
    const auto size = tervit::image::header_size(bytes.data(), bytes.size());
    REQUIRE(size);
    CHECK(size->width == 7);
    CHECK(size->height == 5);
  }
  // 20000x20000: under OpenCV's own limit of 2^30 pixels, which would allocate 1.2 GB for each.
  const auto little = [](std::vector<uint8_t>& bytes, size_t offset, uint32_t value, int count) {
    for (int i = 0; i < count; ++i) bytes[offset + i] = static_cast<uint8_t>(value >> (8 * i));
  };
  auto bmp = encode(red, ".bmp");
  little(bmp, 18, 20000, 4);
  little(bmp, 22, 20000, 4);
  const std::string ppm_text = "P6\n# a comment\n20000 20000\n255\n";
  std::vector<uint8_t> ppm(ppm_text.begin(), ppm_text.end());
  ppm.resize(ppm.size() + 64, 7);
  std::vector<uint8_t> tiff{'I', 'I', 42, 0, 8, 0, 0, 0, 2, 0};  // one directory of two entries at offset 8
  for (const uint16_t tag : {256, 257}) {
    std::vector<uint8_t> entry(12, 0);
    little(entry, 0, tag, 2);
    little(entry, 2, 4, 2);  // LONG
    little(entry, 4, 1, 4);
    little(entry, 8, 20000, 4);
    tiff.insert(tiff.end(), entry.begin(), entry.end());
  }
  tiff.resize(tiff.size() + 4, 0);
  std::vector<uint8_t> webp{'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X', 10, 0, 0, 0, 0, 0, 0, 0};
  webp.resize(30, 0);
  little(webp, 24, 19999, 3);  // sides minus one
  little(webp, 27, 19999, 3);
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::vector<uint8_t>>>{
           {"bomb.bmp", bmp}, {"bomb.ppm", ppm}, {"bomb.tiff", tiff}, {"bomb.webp", webp}}) {
    INFO(name);
    CHECK_THROWS_AS(decode(bytes, name), tervit::image::ImageDecodeError);
    CHECK_THROWS_WITH(decode(bytes, name), Catch::Contains(name) && Catch::Contains("20000x20000") && Catch::Contains("over the limit"));
  }
}
