#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>

#include "tervit/core/error.h"
#include "tervit/data/eval_transform.h"
#include "tervit/data/image_decode.h"
#include "tervit/image/resize.h"

namespace fs = std::filesystem;
using namespace tervit::data;
using namespace tervit::image;

namespace {

// Written by tools/make_pil_resize_fixture.py with Pillow 9.4 / torchvision 0.14.
const fs::path kPilFixtures = fs::path(__FILE__).parent_path() / "fixtures" / "pil_resize";

nlohmann::json pil_manifest() {
  std::ifstream file(kPilFixtures / "manifest.json");
  REQUIRE(file);
  return nlohmann::json::parse(file);
}

struct Difference {
  int max = 0;
  double mean[3] = {0, 0, 0};  // per channel, in 8-bit units
};

Difference difference(const cv::Mat& actual, const cv::Mat& expected) {
  REQUIRE(actual.size() == expected.size());
  REQUIRE(actual.type() == expected.type());
  cv::Mat diff;
  cv::absdiff(actual, expected, diff);
  Difference d;
  double max = 0;
  cv::minMaxLoc(diff.reshape(1), nullptr, &max);
  d.max = static_cast<int>(max);
  const cv::Scalar mean = cv::mean(diff);
  for (int c = 0; c < 3; ++c) d.mean[c] = mean[c];
  return d;
}

// An image whose pixel (x, y) is (x % 256, y % 256, 7), to read crop offsets off the output.
cv::Mat coordinate_image(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  image.forEach<cv::Vec3b>([](cv::Vec3b& pixel, const int* yx) {
    pixel = cv::Vec3b(static_cast<uint8_t>(yx[1] % 256), static_cast<uint8_t>(yx[0] % 256), 7);
  });
  return image;
}

}  // namespace

TEST_CASE("interpolation_names knows PIL's filter names", "[data]") {
  CHECK(interpolation_names().parse("nearest", "interpolation") == Interpolation::kNearest);
  CHECK(interpolation_names().parse("bilinear", "interpolation") == Interpolation::kBilinear);
  CHECK(interpolation_names().parse("bicubic", "interpolation") == Interpolation::kBicubic);
  CHECK_THROWS_AS(interpolation_names().parse("lanczos", "interpolation"), tervit::Error);
  CHECK_THROWS_WITH(interpolation_names().parse("lanczos", "interpolation"), Catch::Contains("lanczos") && Catch::Contains("bicubic") &&
                                                        Catch::Contains("bilinear") && Catch::Contains("nearest"));
}

TEST_CASE("resize_like_pil matches PIL / torchvision Resize(antialias=True)", "[data]") {
  const nlohmann::json manifest = pil_manifest();
  REQUIRE(manifest["resize"].size() == 7);
  for (const nlohmann::json& c : manifest["resize"]) {
    const std::string output = c["output"];
    INFO(output);
    const cv::Mat input = read_image(kPilFixtures / c["input"].get<std::string>());
    const cv::Mat expected = read_image(kPilFixtures / output);
    const cv::Mat actual = resize_like_pil(input, c["width"], c["height"], interpolation_names().parse(c["interpolation"], "interpolation"));
    const Difference d = difference(actual, expected);
    INFO("max abs diff " << d.max << ", mean " << d.mean[0] << " " << d.mean[1] << " " << d.mean[2]);
    // PIL's fixed-point arithmetic is reproduced, so outputs are bit-exact on x86-64; the bound leaves room for
    // compilers that fuse multiply-adds in the coefficient computation.
    CHECK(d.max <= 1);
    for (const double mean : d.mean) CHECK(mean <= 1.0);  // i.e. 1/255 in [0, 1] units
  }
}

TEST_CASE("resize_like_pil keeps constant images constant and copies same-size input", "[data]") {
  const cv::Mat grey(37, 53, CV_8UC3, cv::Scalar(200, 100, 3));
  for (const Interpolation interpolation :
       {Interpolation::kNearest, Interpolation::kBilinear, Interpolation::kBicubic}) {
    for (const cv::Size size : {cv::Size(11, 7), cv::Size(53, 90), cv::Size(120, 37)}) {
      const cv::Mat out = resize_like_pil(grey, size.width, size.height, interpolation);
      REQUIRE(out.size() == size);
      CHECK(cv::norm(out, cv::Mat(size, CV_8UC3, cv::Scalar(200, 100, 3)), cv::NORM_INF) == 0);
    }
  }
  const cv::Mat same = resize_like_pil(grey, 53, 37, Interpolation::kBicubic);
  CHECK(same.data != grey.data);
  CHECK(cv::norm(same, grey, cv::NORM_INF) == 0);
  CHECK_THROWS_AS(resize_like_pil(grey, 0, 10, Interpolation::kBicubic), tervit::Error);
  CHECK_THROWS_AS(resize_like_pil(cv::Mat(4, 4, CV_8UC1), 2, 2, Interpolation::kBicubic), tervit::Error);
}

TEST_CASE("eval_transform matches timm's eval pipeline run by torchvision", "[data]") {
  const nlohmann::json spec = pil_manifest()["eval"];
  EvalTransformOptions options;
  options.img_size = spec["img_size"];
  options.crop_pct = spec["crop_pct"];
  options.interpolation = interpolation_names().parse(spec["interpolation"], "interpolation");
  const cv::Mat input = read_image(kPilFixtures / spec["input"].get<std::string>());
  const cv::Mat expected_crop = read_image(kPilFixtures / spec["output_crop"].get<std::string>());

  const Difference d = difference(eval_resize_crop(input, options), expected_crop);
  INFO("crop max abs diff " << d.max);
  CHECK(d.max <= 1);

  // torchvision ToTensor + Normalize on the reference crop, written out op by op.
  const torch::Tensor crop = torch::from_blob(expected_crop.data, {224, 224, 3}, torch::kUInt8).permute({2, 0, 1});
  const torch::Tensor expected =
      (crop.to(torch::kFloat) / 255 - torch::tensor({0.485f, 0.456f, 0.406f}).view({3, 1, 1})) /
      torch::tensor({0.229f, 0.224f, 0.225f}).view({3, 1, 1});
  const torch::Tensor actual = eval_transform(input, options);
  REQUIRE(actual.sizes() == torch::IntArrayRef({3, 224, 224}));
  REQUIRE(actual.dtype() == torch::kFloat);
  const double max_error = (actual - expected).abs().max().item<double>();
  INFO("tensor max abs error " << max_error);
  CHECK(max_error <= 1.0 / (255 * 0.224) + 1e-6);  // at most one 8-bit step
}

TEST_CASE("eval_transform resizes the shorter side and crops at torchvision's offsets", "[data]") {
  EvalTransformOptions options;  // 224 / 0.875 -> Resize(256)
  options.interpolation = Interpolation::kNearest;

  // 500x375 -> Resize(256) gives int(256 * 500 / 375) = 341 x 256.
  cv::Mat photo(375, 500, CV_8UC3);
  cv::randu(photo, cv::Scalar::all(0), cv::Scalar::all(256));
  CHECK(eval_transform(photo, options).sizes() == torch::IntArrayRef({3, 224, 224}));
  CHECK(eval_resize_crop(photo, options).size() == cv::Size(224, 224));

  // Already 256 on the shorter side, so no resampling: the crop offset shows directly. Python's round()
  // rounds halves to even: (341 - 224) / 2 = 58.5 -> 58, (343 - 224) / 2 = 59.5 -> 60, (256 - 224) / 2 = 16.
  CHECK(eval_resize_crop(coordinate_image(341, 256), options).at<cv::Vec3b>(0, 0) == cv::Vec3b(58, 16, 7));
  CHECK(eval_resize_crop(coordinate_image(343, 256), options).at<cv::Vec3b>(0, 0) == cv::Vec3b(60, 16, 7));
  CHECK(eval_resize_crop(coordinate_image(256, 301), options).at<cv::Vec3b>(0, 0) == cv::Vec3b(16, 38, 7));
}

TEST_CASE("eval_transform pads an image smaller than the crop with zeros", "[data]") {
  EvalTransformOptions options;
  options.crop_pct = 2.0;  // Resize(112), then CenterCrop(224) must pad
  const cv::Mat grey(100, 200, CV_8UC3, cv::Scalar(200, 200, 200));
  const cv::Mat crop = eval_resize_crop(grey, options);  // 224x112 resized, padded by 56 above and below
  REQUIRE(crop.size() == cv::Size(224, 224));
  CHECK(crop.at<cv::Vec3b>(55, 100) == cv::Vec3b(0, 0, 0));
  CHECK(crop.at<cv::Vec3b>(56, 100) == cv::Vec3b(200, 200, 200));
  CHECK(crop.at<cv::Vec3b>(167, 0) == cv::Vec3b(200, 200, 200));
  CHECK(crop.at<cv::Vec3b>(168, 223) == cv::Vec3b(0, 0, 0));
}

TEST_CASE("eval_transform normalises with the given mean and std", "[data]") {
  const cv::Mat constant(300, 400, CV_8UC3, cv::Scalar(255, 128, 0));  // RGB
  const EvalTransformOptions options;
  const torch::Tensor out = eval_transform(constant, options);
  const float expected[3] = {(1.0f - 0.485f) / 0.229f, (128 / 255.0f - 0.456f) / 0.224f, (0.0f - 0.406f) / 0.225f};
  for (int c = 0; c < 3; ++c) {
    CHECK(out[c].min().item<float>() == Approx(expected[c]).epsilon(1e-6));
    CHECK(out[c].max().item<float>() == Approx(expected[c]).epsilon(1e-6));
  }
  EvalTransformOptions bad;
  bad.crop_pct = 0.0;
  CHECK_THROWS_AS(eval_transform(constant, bad), tervit::Error);
}
