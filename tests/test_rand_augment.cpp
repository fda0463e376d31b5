#include <catch2/catch.hpp>
#include <opencv2/imgproc.hpp>

#include "tervit/core/error.h"
#include "tervit/data/augment_ops.h"
#include "tervit/data/rand_augment.h"

using namespace tervit::data;
using namespace tervit::image;

namespace {

// R = (i * j) % 97 + i, G = 255 - R, B = R / 3 at row i, column j: a skewed histogram for equalize.
cv::Mat pattern_image() {
  cv::Mat image(32, 32, CV_8UC3);
  for (int i = 0; i < 32; ++i) {
    for (int j = 0; j < 32; ++j) {
      const int v = (i * j) % 97 + i;
      image.at<cv::Vec3b>(i, j) = cv::Vec3b(v, 255 - v, v / 3);
    }
  }
  return image;
}

std::vector<int> row_values(const cv::Mat& image, int row, int channel) {
  std::vector<int> values;
  for (int x = 0; x < 8; ++x) values.push_back(image.at<cv::Vec3b>(row, x)[channel]);
  return values;
}

double total(const cv::Mat& image) { return cv::sum(image)[0] + cv::sum(image)[1] + cv::sum(image)[2]; }

const cv::Scalar kFill(124, 116, 104);

}  // namespace

TEST_CASE("RandAugment ops: equal to PIL's ImageOps", "[loader]") {
  // Expected values from PIL 9.4's ImageOps on the same image.
  cv::Mat equalized = pattern_image();
  equalize(equalized);
  CHECK(total(equalized) == 419790);
  CHECK(row_values(equalized, 5, 0) == std::vector<int>{10, 15, 22, 31, 43, 55, 70, 82});
  CHECK(row_values(equalized, 5, 2) == std::vector<int>{9, 14, 22, 28, 40, 55, 65, 80});
  cv::Mat stretched = pattern_image();
  auto_contrast(stretched);
  CHECK(total(stretched) == 379630);
  CHECK(row_values(stretched, 5, 0) == std::vector<int>{10, 20, 30, 40, 50, 60, 70, 80});
  CHECK(row_values(stretched, 5, 1) == std::vector<int>{244, 234, 224, 214, 204, 194, 184, 174});
  // A constant image has nothing to stretch or equalize.
  cv::Mat flat(8, 8, CV_8UC3, cv::Scalar(50, 60, 70));
  const cv::Mat flat_copy = flat.clone();
  auto_contrast(flat);
  equalize(flat);
  CHECK(cv::norm(flat, flat_copy, cv::NORM_INF) == 0);
}

TEST_CASE("RandAugment ops: lookup-table invariants", "[loader]") {
  const cv::Mat image = pattern_image();
  cv::Mat twice = image.clone();
  invert(twice);
  CHECK(twice.at<cv::Vec3b>(3, 4)[0] == 255 - image.at<cv::Vec3b>(3, 4)[0]);
  invert(twice);
  CHECK(cv::norm(twice, image, cv::NORM_INF) == 0);

  cv::Mat kept = image.clone();
  posterize(kept, 8);
  CHECK(cv::norm(kept, image, cv::NORM_INF) == 0);
  cv::Mat nibble = image.clone();
  posterize(nibble, 4);
  nibble.forEach<cv::Vec3b>([](const cv::Vec3b& p, const int*) { REQUIRE((p[0] & 0x0F) == 0); });
  cv::Mat black = image.clone();
  posterize(black, 0);
  CHECK(cv::countNonZero(black.reshape(1)) == 0);
  CHECK_THROWS_AS(posterize(black, 9), tervit::Error);

  cv::Mat unchanged = image.clone();
  solarize(unchanged, 256);
  CHECK(cv::norm(unchanged, image, cv::NORM_INF) == 0);
  cv::Mat all_inverted = image.clone();
  cv::Mat inverted = image.clone();
  solarize(all_inverted, 0);
  invert(inverted);
  CHECK(cv::norm(all_inverted, inverted, cv::NORM_INF) == 0);

  cv::Mat added(1, 3, CV_8UC3);
  added.at<cv::Vec3b>(0) = cv::Vec3b(100, 127, 200);
  added.at<cv::Vec3b>(1) = cv::Vec3b(0, 128, 255);
  added.at<cv::Vec3b>(2) = cv::Vec3b(120, 20, 30);
  solarize_add(added, 110);
  CHECK(added.at<cv::Vec3b>(0) == cv::Vec3b(210, 237, 200));  // below 128: + 110; 200 stays
  CHECK(added.at<cv::Vec3b>(1) == cv::Vec3b(110, 128, 255));
  CHECK(added.at<cv::Vec3b>(2) == cv::Vec3b(230, 130, 140));
}

TEST_CASE("RandAugment ops: geometry as PIL's transform", "[loader]") {
  const cv::Mat image = pattern_image();
  CHECK(cv::norm(rotate_like_pil(image, 0.0, Interpolation::kBilinear, kFill), image, cv::NORM_INF) == 0);
  cv::Mat quarter;
  cv::rotate(image, quarter, cv::ROTATE_90_COUNTERCLOCKWISE);  // PIL rotates counter-clockwise
  CHECK(cv::norm(rotate_like_pil(image, 90.0, Interpolation::kBilinear, kFill), quarter, cv::NORM_INF) <= 1);

  // TranslateX by +8 pixels reads the input 8 columns to the right: content moves left, fill enters.
  const cv::Mat moved = affine_like_pil(image, {1, 0, 8, 0, 1, 0}, Interpolation::kBicubic, kFill);
  CHECK(moved.size() == image.size());
  CHECK(cv::norm(moved.colRange(0, 24), image.colRange(8, 32), cv::NORM_INF) == 0);
  CHECK(moved.at<cv::Vec3b>(10, 31) == cv::Vec3b(124, 116, 104));

  // ShearX: PIL samples row y at x + factor * (y + 0.5) (pixel centres): row 7 with 0.4 reads 3 columns on.
  const cv::Mat sheared = affine_like_pil(image, {1, 0.4, 0, 0, 1, 0}, Interpolation::kBilinear, kFill);
  CHECK(cv::norm(sheared.row(7).colRange(0, 20), image.row(7).colRange(3, 23), cv::NORM_INF) == 0);
}

TEST_CASE("RandAugment: config strings", "[loader]") {
  const RandAugment deit("rand-m9-mstd0.5-inc1");
  CHECK(deit.magnitude() == 9.0);
  CHECK(deit.magnitude_std() == 0.5);
  CHECK(deit.num_layers() == 2);
  CHECK(deit.magnitude_max() == 10.0);
  CHECK(deit.probability() == 0.5);
  REQUIRE(deit.op_names().size() == 15);
  CHECK(deit.op_names()[4] == "PosterizeIncreasing");
  CHECK(deit.op_names()[14] == "TranslateYRel");

  const RandAugment plain("rand-n3-m7-mmax20-p1.0-inc0-w0");
  CHECK(plain.num_layers() == 3);
  CHECK(plain.magnitude() == 7.0);
  CHECK(plain.magnitude_max() == 20.0);
  CHECK(plain.probability() == 1.0);
  CHECK(plain.op_names()[4] == "Posterize");
  CHECK(std::isinf(RandAugment("rand-mstd101").magnitude_std()));
  CHECK(RandAugment("rand").magnitude() == 10.0);

  CHECK_THROWS_WITH(RandAugment("augmix-m3"), Catch::Contains("augmix-m3") && Catch::Contains("'rand'"));
  CHECK_THROWS_WITH(RandAugment("rand-x5"), Catch::Contains("unknown section 'x5'"));
  CHECK_THROWS_WITH(RandAugment("rand-m"), Catch::Contains("'m' has no value"));
  CHECK_THROWS_WITH(RandAugment("rand-m9.5"), Catch::Contains("integer"));
  CHECK_THROWS_WITH(RandAugment("rand-mstd0.5x"), Catch::Contains("number"));
  CHECK_THROWS_WITH(RandAugment("rand-w1"), Catch::Contains("w0"));
  CHECK_THROWS_WITH(RandAugment("rand-p2"), Catch::Contains("p must"));
}

TEST_CASE("RandAugment: every op keeps shape and type; seeded", "[loader]") {
  const RandAugment augment("rand-m9-mstd0.5-inc1");
  const RandAugment plain("rand-m9");
  Rng rng(4);
  for (const auto* ops : {&augment.op_names(), &plain.op_names()}) {
    for (const auto& name : *ops) {
      for (const double magnitude : {0.0, 5.0, 10.0}) {
        cv::Mat image = pattern_image();
        augment.apply_op(name, image, magnitude, rng);
        CHECK(image.size() == cv::Size(32, 32));
        CHECK(image.type() == CV_8UC3);
      }
    }
  }
  // At magnitude 0 these ops are the identity (enhance factor 1, threshold 256, zero angle or shift).
  for (const char* name : {"ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing",
                           "SolarizeIncreasing", "Rotate", "ShearX", "TranslateYRel"}) {
    cv::Mat image = pattern_image();
    augment.apply_op(name, image, 0.0, rng);
    CHECK(cv::norm(image, pattern_image(), cv::NORM_INF) == 0);
  }
  cv::Mat scratch = pattern_image();
  CHECK_THROWS_WITH(augment.apply_op("Cutout", scratch, 1.0, rng), Catch::Contains("Cutout"));

  cv::Mat a = pattern_image();
  cv::Mat b = pattern_image();
  Rng rng_a(10), rng_b(10);
  for (int i = 0; i < 20; ++i) {
    augment(a, rng_a);
    augment(b, rng_b);
    REQUIRE(cv::norm(a, b, cv::NORM_INF) == 0);
  }
  CHECK(cv::norm(a, pattern_image(), cv::NORM_INF) > 0);
  // Weighted choice draws without replacement and never picks zero-weight ops (Posterize, Invert).
  const RandAugment weighted("rand-m9-n13-w0-p1.0");
  cv::Mat image = pattern_image();
  weighted(image, rng);
  CHECK(image.size() == cv::Size(32, 32));
}
