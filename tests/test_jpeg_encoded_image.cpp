#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "test_helpers.h"
#include "tervit/core/error.h"
#include "tervit/data/encoded_image.h"
#include "tervit/data/image_decode.h"
#include "tervit/data/image_folder.h"
#include "tervit/data/loader.h"
#include "tervit/data/random_resized_crop.h"
#include "tervit/data/train_transform.h"

namespace fs = std::filesystem;
using tervit::testing::TempDir;
using namespace tervit::data;
using namespace tervit::image;

namespace {

const fs::path kFixtures = fs::path(__FILE__).parent_path() / "fixtures";

// A real photo, 240x160.
cv::Mat photo_bgr() {
  cv::Mat bgr;
  cv::cvtColor(read_image(kFixtures / "pil_resize" / "coffee.png"), bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

std::vector<uint8_t> encode(const cv::Mat& bgr, const std::string& ext, const std::vector<int>& params = {}) {
  std::vector<uint8_t> bytes;
  REQUIRE(cv::imencode(ext, bgr, bytes, params));
  return bytes;
}

// A progressive JPEG whose header is fine but whose second scan has an impossible spectral range:
// libjpeg fails only when the pixels are decoded, after the loader has read the file.
std::vector<uint8_t> late_corrupt_jpeg() {
  std::vector<uint8_t> bytes = encode(photo_bgr(), ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
  const std::vector<uint8_t> sos{0xFF, 0xDA};
  auto scan = std::search(bytes.begin(), bytes.end(), sos.begin(), sos.end());
  REQUIRE(scan != bytes.end());
  scan = std::search(scan + 2, bytes.end(), sos.begin(), sos.end());
  REQUIRE(scan != bytes.end());
  const size_t components = scan[4];
  scan[5 + 2 * components + 1] = 200;  // Se, the last coefficient of the scan: at most 63
  return bytes;
}

bool identical(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

}  // namespace

TEST_CASE("EncodedImage decodes what decode_image decodes, whole or by region", "[data]") {
  const cv::Mat bgr = photo_bgr();
  const std::vector<std::pair<std::string, std::vector<uint8_t>>> files{
      {"photo.jpg", encode(bgr, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 90})},
      {"progressive.jpg", encode(bgr, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1})},
      {"gray.jpg", encode(cv::Mat(bgr.size(), CV_8UC1, cv::Scalar(90)), ".jpg")},
      {"photo.png", encode(bgr, ".png")},
      {"cmyk.jpg", tervit::testing::read_bytes(kFixtures / "images" / "cmyk.jpg")}};
  for (const auto& [name, bytes] : files) {
    INFO(name);
    const cv::Mat expected = decode_image(bytes.data(), bytes.size(), name);
    const EncodedImage image(bytes, name);
    CHECK(image.name() == name);
    REQUIRE(image.size() == expected.size());
    CHECK(identical(image.decode(), expected));
    const cv::Mat converted = image;  // what a transform taking const cv::Mat& receives
    CHECK(identical(converted, expected));
    const cv::Rect region(3, 2, expected.cols / 2, expected.rows - 5);
    CHECK(identical(image.decode(region), expected(region)));
    CHECK_THROWS_WITH(image.decode(cv::Rect(1, 1, expected.cols, 2)), Catch::Contains(name) && Catch::Contains("outside"));
  }
}

TEST_CASE("EncodedImage reports bad data as ImageDecodeError, early when it can", "[data]") {
  std::vector<uint8_t> truncated = encode(photo_bgr(), ".jpg");
  truncated.resize(truncated.size() / 2);
  CHECK_THROWS_AS(EncodedImage(truncated, "half.jpg"), ImageDecodeError);
  CHECK_THROWS_AS(EncodedImage({}, "zero.jpg"), ImageDecodeError);
  const std::string text = "not an image";
  CHECK_THROWS_AS(EncodedImage(std::vector<uint8_t>(text.begin(), text.end()), "text.jpg"), ImageDecodeError);
  CHECK_THROWS_WITH(EncodedImage::read("/nonexistent/missing.jpg"), Catch::Contains("missing.jpg"));

  const EncodedImage late(late_corrupt_jpeg(), "late.jpg");  // the header is fine
  CHECK(late.size() == cv::Size(240, 160));
  CHECK_THROWS_AS(late.decode(), ImageDecodeError);
  CHECK_THROWS_WITH(late.decode(cv::Rect(0, 0, 8, 8)), Catch::Contains("late.jpg"));

  // A region outside the image is the caller's mistake, not bad data.
  const EncodedImage good(encode(photo_bgr(), ".jpg"), "good.jpg");
  bool bad_data = false;
  try {
    good.decode(cv::Rect(0, 0, 241, 1));
  } catch (const ImageDecodeError&) {
    bad_data = true;
  } catch (const tervit::Error&) {
  }
  CHECK_FALSE(bad_data);
}

TEST_CASE("RandomResizedCrop and the train transform give the same output from an EncodedImage", "[data]") {
  const cv::Mat bgr = photo_bgr();
  const std::vector<uint8_t> jpeg = encode(bgr, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 90});
  const std::vector<uint8_t> png = encode(bgr, ".png");
  TrainTransformOptions plain;
  plain.color_jitter = {};
  TrainTransformOptions jitter;  // default color jitter, random erasing
  jitter.erasing.probability = 0.5;
  TrainTransformOptions rand_augment;
  rand_augment.auto_augment = "rand-m9-mstd0.5-inc1";
  for (const auto* bytes : {&jpeg, &png}) {
    const EncodedImage encoded(*bytes, "photo");
    const cv::Mat decoded = decode_image(bytes->data(), bytes->size(), "photo");
    for (uint64_t seed = 0; seed < 20; ++seed) {
      INFO("seed " << seed);
      Rng a(seed), b(seed);
      REQUIRE(identical(random_resized_crop(encoded, RandomResizedCropOptions{}, a),
                        random_resized_crop(decoded, RandomResizedCropOptions{}, b)));
      for (const TrainTransformOptions* options : {&plain, &jitter, &rand_augment}) {
        const TrainTransform transform(*options);
        Rng c(seed), d(seed);
        CHECK(torch::equal(transform(encoded, c), transform(decoded, d)));
      }
    }
  }
}

TEST_CASE("Loader: a file found corrupt only while the transform decodes it is skipped", "[loader]") {
  TempDir dir;
  const cv::Mat bgr = photo_bgr();
  for (int i = 0; i < 6; ++i) {
    const fs::path folder = dir / "train" / ("class" + std::to_string(i % 2));
    fs::create_directories(folder);
    REQUIRE(cv::imwrite((folder / (std::to_string(i) + ".jpg")).string(), bgr));
  }
  const fs::path late = dir / "train" / "class1" / "late.jpg";
  tervit::testing::write_bytes(late, late_corrupt_jpeg());
  const ImageDataset dataset = scan_image_folder(dir / "train");
  REQUIRE(dataset.samples.size() == 7);

  TrainTransformOptions crop_options;
  crop_options.crop.size = 32;
  const TrainTransform transform(crop_options);
  LoaderOptions options;
  options.batch_size = 7;
  options.drop_last = false;
  options.workers = 1;
  DataLoader loader(dataset.samples, std::cref(transform), options);
  loader.start_epoch(0);
  const std::optional<Batch> batch = loader.next();
  REQUIRE(batch);
  CHECK(batch->images.sizes() == torch::IntArrayRef{7, 3, 32, 32});
  CHECK(loader.bad_files() == std::vector<std::string>{late.string()});

  // A transform written for decoded images still fits (it gets the whole image), and the same file is bad.
  const auto mean_colour = [](const cv::Mat& rgb8, Rng&) {
    const cv::Scalar mean = cv::mean(rgb8);
    return torch::tensor({float(mean[0]), float(mean[1]), float(mean[2])}).view({3, 1, 1});
  };
  DataLoader whole(dataset.samples, mean_colour, options);
  whole.start_epoch(0);
  const std::optional<Batch> means = whole.next();
  REQUIRE(means);
  CHECK(means->images.sizes() == torch::IntArrayRef{7, 3, 1, 1});
  CHECK(whole.bad_files() == std::vector<std::string>{late.string()});

  // Errors of the transform itself still stop the epoch.
  DataLoader failing(dataset.samples, [](const EncodedImage&, Rng&) -> torch::Tensor { throw tervit::Error("transform bug"); },
                     options);
  failing.start_epoch(0);
  CHECK_THROWS_WITH(failing.next(), Catch::Contains("transform bug"));
  CHECK(failing.bad_file_count() == 0);
}
