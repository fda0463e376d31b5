#include <catch2/catch.hpp>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "tervit/core/error.h"
#include "tervit/data/color_jitter.h"
#include "tervit/data/normalize.h"
#include "tervit/data/pil_enhance.h"
#include "tervit/data/random.h"
#include "tervit/data/random_erasing.h"
#include "tervit/data/random_resized_crop.h"
#include "tervit/data/train_transform.h"

using namespace tervit::data;
using namespace tervit::image;

namespace {

// A smooth colourful test image whose pixels are all different enough for flips and crops to show.
cv::Mat gradient_image(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  image.forEach<cv::Vec3b>([&](cv::Vec3b& pixel, const int* position) {
    const int y = position[0];
    const int x = position[1];
    pixel = cv::Vec3b(static_cast<uint8_t>(x * 255 / width), static_cast<uint8_t>(y * 255 / height),
                      static_cast<uint8_t>((x + y) % 256));
  });
  return image;
}

}  // namespace

TEST_CASE("Random draws: ranges, determinism and moments", "[loader]") {
  Rng a(mix_seed({7, 1, 2}));
  Rng b(mix_seed({7, 1, 2}));
  Rng c(mix_seed({7, 1, 3}));
  CHECK(a() == b());
  CHECK(a() != c());
  double sum = 0.0;
  double sum_squares = 0.0;
  double beta_sum = 0.0;
  constexpr int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) {
    const double u = uniform(a, 2.0, 3.0);
    REQUIRE((u >= 2.0 && u < 3.0));
    const int64_t k = uniform_int(a, -1, 1);
    REQUIRE((k >= -1 && k <= 1));
    const double n = normal(a);
    sum += n;
    sum_squares += n * n;
    const double x = beta(a, 0.8, 0.8);
    REQUIRE((x >= 0.0 && x <= 1.0));
    beta_sum += x;
  }
  CHECK(std::abs(sum / kDraws) < 0.03);
  CHECK(std::abs(sum_squares / kDraws - 1.0) < 0.05);
  CHECK(std::abs(beta_sum / kDraws - 0.5) < 0.02);  // Beta(a, a) has mean 1/2
  CHECK(uniform_int(a, 5, 5) == 5);
}

TEST_CASE("RandomResizedCrop: boxes inside the image with torchvision's scale and ratio", "[loader]") {
  const RandomResizedCropOptions options;
  Rng rng(1);
  int fallbacks = 0;
  for (int i = 0; i < 2000; ++i) {
    const int width = 50 + static_cast<int>(uniform_int(rng, 0, 450));
    const int height = 50 + static_cast<int>(uniform_int(rng, 0, 450));
    const cv::Rect box = random_resized_crop_box(width, height, options, rng);
    REQUIRE(box.x >= 0);
    REQUIRE(box.y >= 0);
    REQUIRE(box.width >= 1);
    REQUIRE(box.height >= 1);
    REQUIRE(box.x + box.width <= width);
    REQUIRE(box.y + box.height <= height);
    const double scale = static_cast<double>(box.area()) / (width * height);
    const double ratio = static_cast<double>(box.width) / box.height;
    if (scale > 0.999) ++fallbacks;
    // Rounding w and h to integers moves scale and ratio a little beyond the drawn values.
    CHECK(scale >= 0.08 * 0.8);
    CHECK(ratio >= 0.75 * 0.9);
    CHECK(ratio <= 4.0 / 3.0 * 1.1);
  }
  CHECK(fallbacks < 200);

  SECTION("fallback: a centred box with the ratio clamped to the range") {
    Rng fallback_rng(3);
    const RandomResizedCropOptions impossible{224, 2.0, 3.0, 0.75, 4.0 / 3.0};  // area > image: never fits
    CHECK(random_resized_crop_box(100, 100, impossible, fallback_rng) == cv::Rect(0, 0, 100, 100));
    CHECK(random_resized_crop_box(400, 100, impossible, fallback_rng) == cv::Rect(133, 0, 133, 100));
    CHECK(random_resized_crop_box(100, 400, impossible, fallback_rng) == cv::Rect(0, 133, 100, 133));
  }
  SECTION("invalid options") {
    CHECK_THROWS_AS(random_resized_crop_box(10, 10, {0}, rng), tervit::Error);
    CHECK_THROWS_WITH(random_resized_crop_box(10, 10, {224, 0.5, 0.1}, rng), Catch::Contains("scale"));
    CHECK_THROWS_WITH(random_resized_crop_box(10, 10, {224, 0.08, 1.0, 2.0, 1.0}, rng), Catch::Contains("ratio"));
  }
}

TEST_CASE("PIL enhance operations", "[loader]") {
  const cv::Mat image = gradient_image(40, 30);
  SECTION("factor 1 keeps the image") {
    for (auto op : {adjust_brightness, adjust_contrast, adjust_saturation, adjust_sharpness}) {
      cv::Mat copy = image.clone();
      op(copy, 1.0);
      CHECK(cv::norm(copy, image, cv::NORM_INF) == 0);
    }
  }
  SECTION("factor 0 gives the degenerate image") {
    cv::Mat dark = image.clone();
    adjust_brightness(dark, 0.0);
    CHECK(cv::countNonZero(dark.reshape(1)) == 0);
    cv::Mat flat = image.clone();
    adjust_contrast(flat, 0.0);
    const int mean_gray = static_cast<int>(cv::mean(pil_grayscale(image))[0] + 0.5);
    CHECK(cv::norm(flat, cv::Mat(image.size(), CV_8UC3, cv::Scalar::all(mean_gray)), cv::NORM_INF) == 0);
    cv::Mat gray = image.clone();
    adjust_saturation(gray, 0.0);
    std::vector<cv::Mat> channels;
    cv::split(gray, channels);
    CHECK(cv::norm(channels[0], pil_grayscale(image), cv::NORM_INF) == 0);
    CHECK(cv::norm(channels[1], channels[2], cv::NORM_INF) == 0);
  }
  SECTION("values as Pillow computes them") {
    const cv::Mat pixels = (cv::Mat_<cv::Vec3b>(1, 4) << cv::Vec3b(255, 0, 0), cv::Vec3b(0, 255, 0), cv::Vec3b(0, 0, 255),
                            cv::Vec3b(10, 200, 77));
    const cv::Mat gray = pil_grayscale(pixels);  // PIL: [[76 150 29 129]]
    CHECK(gray.at<uint8_t>(0) == 76);
    CHECK(gray.at<uint8_t>(1) == 150);
    CHECK(gray.at<uint8_t>(2) == 29);
    CHECK(gray.at<uint8_t>(3) == 129);
    cv::Mat bright = pixels.clone();
    adjust_brightness(bright, 1.5);  // truncated and clipped: 10 * 1.5 = 15, 200 * 1.5 -> 255, 77 * 1.5 = 115.5 -> 115
    CHECK(bright.at<cv::Vec3b>(3) == cv::Vec3b(15, 255, 115));
  }
}

TEST_CASE("Color jitter: seeded, factors within range", "[loader]") {
  const cv::Mat image = gradient_image(64, 48);
  const ColorJitterOptions options{0.4, 0.4, 0.4};
  cv::Mat a = image.clone();
  cv::Mat b = image.clone();
  cv::Mat c = image.clone();
  Rng rng_a(5), rng_b(5), rng_c(6);
  color_jitter(a, options, rng_a);
  color_jitter(b, options, rng_b);
  color_jitter(c, options, rng_c);
  CHECK(cv::norm(a, b, cv::NORM_INF) == 0);
  CHECK(cv::norm(a, c, cv::NORM_INF) > 0);
  cv::Mat unchanged = image.clone();
  color_jitter(unchanged, {}, rng_a);
  CHECK(cv::norm(unchanged, image, cv::NORM_INF) == 0);
  // Brightness alone within [0.6, 1.4]: the mean moves by at most 40% (plus truncation).
  for (int i = 0; i < 20; ++i) {
    cv::Mat jittered = image.clone();
    color_jitter(jittered, {0.4, 0.0, 0.0}, rng_a);
    const double ratio = cv::mean(jittered)[0] / cv::mean(image)[0];
    CHECK(ratio >= 0.59);
    CHECK(ratio <= 1.41);
  }
  CHECK_THROWS_AS(color_jitter(unchanged, {-0.1, 0, 0}, rng_a), tervit::Error);
}

TEST_CASE("Normalize equals torchvision's ToTensor + Normalize", "[loader]") {
  const cv::Mat image = gradient_image(17, 9);
  const Normalization normalization;
  const torch::Tensor fused = to_normalized_chw(image, normalization);
  const torch::Tensor hwc = torch::from_blob(image.data, {9, 17, 3}, torch::kUInt8);
  const torch::Tensor reference = hwc.permute({2, 0, 1}).to(torch::kFloat).div(255)
                                      .sub(torch::tensor({0.485f, 0.456f, 0.406f}).view({3, 1, 1}))
                                      .div(torch::tensor({0.229f, 0.224f, 0.225f}).view({3, 1, 1}));
  CHECK(fused.sizes() == torch::IntArrayRef{3, 9, 17});
  CHECK(torch::equal(fused, reference));
  CHECK(torch::equal(to_normalized_chw(image, normalization, true), reference.flip(2)));
}

TEST_CASE("Random erasing: timm's area and modes", "[loader]") {
  RandomErasingOptions options;
  options.probability = 1.0;
  Rng rng(11);
  for (int i = 0; i < 200; ++i) {
    torch::Tensor image = torch::full({3, 32, 48}, 100.0f);
    random_erasing(image, options, rng);
    const torch::Tensor erased = image.ne(100.0f).any(0);
    const double fraction = erased.to(torch::kFloat).mean().item<double>();
    CHECK(fraction <= 1.0 / 3.0 + 0.05);  // rounding of w and h
    if (fraction > 0) {
      // a rectangle: its bounding box is filled
      const auto rows = erased.any(1).nonzero();
      const auto cols = erased.any(0).nonzero();
      const int64_t box = (rows.max().item<int64_t>() - rows.min().item<int64_t>() + 1) *
                          (cols.max().item<int64_t>() - cols.min().item<int64_t>() + 1);
      CHECK(box == erased.sum().item<int64_t>());
      CHECK(fraction >= 0.02 * 0.7);
    }
  }
  SECTION("pixel noise is standard normal, const is zero") {
    torch::Tensor image = torch::full({3, 200, 200}, 100.0f);
    options.min_area = options.max_area = 0.3;
    random_erasing(image, options, rng);
    const torch::Tensor noise = image.masked_select(image.ne(100.0f));
    CHECK(std::abs(noise.mean().item<double>()) < 0.05);
    CHECK(std::abs(noise.std().item<double>() - 1.0) < 0.05);
    options.mode = ErasingMode::kConst;
    torch::Tensor zeros = torch::full({3, 20, 20}, 100.0f);
    random_erasing(zeros, options, rng);
    CHECK(zeros.eq(0.0f).sum().item<int64_t>() > 0);
    CHECK(zeros.ne(0.0f).logical_and(zeros.ne(100.0f)).sum().item<int64_t>() == 0);
  }
  SECTION("probability 0 leaves the tensor alone; modes parse") {
    options.probability = 0.0;
    torch::Tensor image = torch::full({3, 8, 8}, 1.0f);
    random_erasing(image, options, rng);
    CHECK(image.eq(1.0f).all().item<bool>());
    CHECK(erasing_mode_names().parse("rand", "erasing mode") == ErasingMode::kRand);
    CHECK_THROWS_WITH(erasing_mode_names().parse("noise", "erasing mode"), Catch::Contains("pixel"));
  }
}

TEST_CASE("Train transform: shape, values and seeded determinism", "[loader]") {
  const cv::Mat image = gradient_image(500, 375);
  TrainTransformOptions options;
  options.erasing.probability = 0.25;
  const TrainTransform transform(options);
  Rng a(mix_seed({1, 0, 0})), b(mix_seed({1, 0, 0})), c(mix_seed({2, 0, 0}));
  const torch::Tensor x = transform(image, a);
  CHECK(x.sizes() == torch::IntArrayRef{3, 224, 224});
  CHECK(x.scalar_type() == torch::kFloat);
  CHECK(torch::equal(x, transform(image, b)));
  CHECK_FALSE(torch::equal(x, transform(image, c)));
  // Without erasing every value is a normalized 8-bit value: within [(0 - mean) / std, (1 - mean) / std].
  options.erasing.probability = 0.0;
  const TrainTransform plain(options);
  for (int i = 0; i < 5; ++i) {
    const torch::Tensor y = plain(image, a);
    CHECK(y.min().item<float>() >= -0.485f / 0.229f - 1e-4f);
    CHECK(y.max().item<float>() <= (1.0f - 0.406f) / 0.225f + 1e-4f);
  }
  options.crop.size = 0;
  CHECK_THROWS_AS(TrainTransform(options), tervit::Error);
}

TEST_CASE("Train transform: flip mirrors the crop", "[loader]") {
  const cv::Mat image = gradient_image(300, 200);
  TrainTransformOptions options;
  options.color_jitter = {};
  options.crop = {64, 1.0, 1.0, 1.5, 1.5};  // the whole image: a deterministic box
  options.hflip = 0.0;
  Rng rng(1);
  const torch::Tensor kept = TrainTransform(options)(image, rng);
  options.hflip = 1.0;
  const torch::Tensor flipped = TrainTransform(options)(image, rng);
  CHECK(torch::equal(kept.flip(2), flipped));

  // Color jitter commutes with the flip, which is therefore applied while normalizing: still a mirror.
  options.color_jitter = {0.4, 0.4, 0.4};
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Rng a(seed), b(seed);
    options.hflip = 0.0;
    const torch::Tensor jittered = TrainTransform(options)(image, a);
    options.hflip = 1.0;
    CHECK(torch::equal(jittered.flip(2), TrainTransform(options)(image, b)));
  }
}

TEST_CASE("Train transform: RandAugment replaces color jitter", "[loader]") {
  const cv::Mat image = gradient_image(120, 90);
  TrainTransformOptions options;
  options.crop.size = 32;
  options.auto_augment = "rand-m9-mstd0.5-inc1";
  const TrainTransform transform(options);
  Rng a(8), b(8);
  CHECK(torch::equal(transform(image, a), transform(image, b)));
  options.auto_augment = "rand-q1";
  CHECK_THROWS_WITH(TrainTransform(options), Catch::Contains("rand-q1"));
}
