#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <set>

#include "test_helpers.h"
#include "tervit/core/error.h"
#include "tervit/data/image_folder.h"
#include "tervit/data/loader.h"
#include "tervit/data/train_transform.h"

namespace fs = std::filesystem;
using tervit::testing::TempDir;
using namespace tervit::data;
using namespace tervit::image;

namespace {

constexpr int kImagesPerClass = 8;
constexpr int kClasses = 3;

// Image i of class c is a flat colour (10 * i, 60 * c, 200) in RGB: a sample can be recognised in a batch.
void make_image_folder(const fs::path& root) {
  for (int c = 0; c < kClasses; ++c) {
    const fs::path folder = root / ("class" + std::to_string(c));
    fs::create_directories(folder);
    for (int i = 0; i < kImagesPerClass; ++i) {
      const cv::Mat bgr(24 + i, 32, CV_8UC3, cv::Scalar(200, 60 * c, 10 * i));
      REQUIRE(cv::imwrite((folder / (std::to_string(i) + ".png")).string(), bgr));
    }
  }
}

// Three broken files of the kinds ImageNet-sized sets hold; returns their paths.
std::vector<std::string> add_bad_files(const fs::path& root) {
  const fs::path folder = root / "class1";
  std::vector<uint8_t> jpeg;
  REQUIRE(cv::imencode(".jpg", cv::Mat(64, 64, CV_8UC3, cv::Scalar(1, 2, 3)), jpeg));
  tervit::testing::write_bytes(folder / "truncated.jpg", jpeg, jpeg.size() / 2);
  tervit::testing::write_bytes(folder / "zero.jpg", {});
  std::ofstream(folder / "text.JPEG") << "this is not an image\n";
  return {(folder / "text.JPEG").string(), (folder / "truncated.jpg").string(), (folder / "zero.jpg").string()};
}

// The sample's identity: its flat colour as a [3, 1, 1] tensor (R = 10 i, G = 60 c).
torch::Tensor first_pixel(const cv::Mat& rgb8, Rng&) {
  const cv::Vec3b pixel = rgb8.at<cv::Vec3b>(0, 0);
  return torch::tensor({float(pixel[0]), float(pixel[1]), float(pixel[2])}).view({3, 1, 1});
}

std::vector<Batch> run_epoch(DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> batches;
  while (auto batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

void check_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].index == static_cast<int64_t>(i));
    CHECK(torch::equal(a[i].images, b[i].images));
    CHECK(torch::equal(a[i].labels, b[i].labels));
  }
}

TrainTransform small_train_transform() {
  TrainTransformOptions options;
  options.crop.size = 16;
  options.erasing.probability = 0.5;
  return TrainTransform(options);
}

}  // namespace

TEST_CASE("Loader: batches hold the right samples and labels", "[loader]") {
  TempDir dir;
  make_image_folder(dir / "train");
  const ImageDataset dataset = scan_image_folder(dir / "train");
  LoaderOptions options;
  options.batch_size = 5;
  options.workers = 2;
  options.sampler.shuffle = false;
  options.drop_last = false;
  DataLoader loader(dataset.samples, first_pixel, options);
  CHECK(loader.batches_per_epoch() == 5);  // 24 samples
  const auto batches = run_epoch(loader, 0);
  REQUIRE(batches.size() == 5);
  CHECK(batches.back().images.size(0) == 4);
  int64_t position = 0;
  for (const auto& batch : batches) {
    CHECK(batch.images.sizes() == torch::IntArrayRef{batch.labels.size(0), 3, 1, 1});
    CHECK(batch.labels.scalar_type() == torch::kLong);
    CHECK_FALSE(batch.targets.defined());
    for (int64_t j = 0; j < batch.labels.size(0); ++j, ++position) {
      const Sample& sample = dataset.samples[static_cast<size_t>(position)];
      CHECK(batch.labels[j].item<int64_t>() == sample.label);
      CHECK(batch.images[j][1][0][0].item<float>() == 60.0f * sample.label);  // green encodes the class
    }
  }
  CHECK(position == 24);
  CHECK(loader.bad_file_count() == 0);

  options.drop_last = true;
  DataLoader dropping(dataset.samples, first_pixel, options);
  CHECK(run_epoch(dropping, 0).size() == 4);
}

TEST_CASE("Loader: identical output for 0, 1 and 3 worker threads; epochs differ", "[loader]") {
  TempDir dir;
  make_image_folder(dir / "train");
  const ImageDataset dataset = scan_image_folder(dir / "train");
  const TrainTransform transform = small_train_transform();
  LoaderOptions options;
  options.batch_size = 4;
  options.sampler.seed = 123;
  MixupOptions mixup;
  mixup.num_classes = kClasses;
  options.mixup = mixup;
  std::vector<std::vector<Batch>> runs;
  for (const int workers : {0, 1, 3}) {
    options.workers = workers;
    options.prefetch_batches = workers + 1;
    DataLoader loader(dataset.samples, std::cref(transform), options);
    runs.push_back(run_epoch(loader, 2));
  }
  REQUIRE(runs[0].size() == 6);
  check_same(runs[0], runs[1]);
  check_same(runs[0], runs[2]);
  for (const auto& batch : runs[0]) {
    CHECK(batch.images.sizes() == torch::IntArrayRef{4, 3, 16, 16});
    REQUIRE(batch.targets.defined());
    CHECK(batch.targets.sum(1).allclose(torch::ones({4})));
  }
  options.workers = 2;
  DataLoader loader(dataset.samples, std::cref(transform), options);
  const auto epoch3 = run_epoch(loader, 3);
  CHECK_FALSE(torch::equal(epoch3[0].images, runs[0][0].images));
  check_same(run_epoch(loader, 2), runs[0]);  // an epoch can be replayed
}

TEST_CASE("Loader: bad files are replaced, counted and batches keep their size", "[loader]") {
  TempDir dir;
  make_image_folder(dir / "train");
  const std::vector<std::string> bad = add_bad_files(dir / "train");
  const ImageDataset dataset = scan_image_folder(dir / "train");
  REQUIRE(dataset.samples.size() == 27);
  LoaderOptions options;
  options.batch_size = 9;
  options.drop_last = false;
  options.sampler.seed = 9;
  std::vector<std::vector<Batch>> runs;
  for (const int workers : {1, 3}) {
    options.workers = workers;
    DataLoader loader(dataset.samples, std::cref(first_pixel), options);
    runs.push_back(run_epoch(loader, 0));
    CHECK(loader.bad_file_count() == 3);
    CHECK(loader.bad_files() == bad);
    for (const auto& batch : runs.back()) CHECK(batch.images.size(0) == 9);
    // A second epoch meets the same files again: still counted once.
    run_epoch(loader, 1);
    CHECK(loader.bad_file_count() == 3);
  }
  check_same(runs[0], runs[1]);  // replacements are deterministic too
  std::set<std::pair<float, float>> seen;
  for (const auto& batch : runs[0]) {
    for (int64_t j = 0; j < batch.images.size(0); ++j) {
      CHECK(batch.images[j][2][0][0].item<float>() == 200.0f);  // every slot holds a real image
      seen.insert({batch.images[j][0][0][0].item<float>(), batch.images[j][1][0][0].item<float>()});
    }
  }
  CHECK(seen.size() == 24);  // every good image was visited
}

TEST_CASE("Loader: an image the transform fails on (OpenCV's exception, memory) is skipped and named", "[loader][hostile]") {
  TempDir dir;
  make_image_folder(dir / "train");
  const ImageDataset dataset = scan_image_folder(dir / "train");
  const auto victim = (dir / "train" / "class2" / "5.png").string();
  // Image 5 of class 2 is the one whose colour is (50, 120, 200): a failure as OpenCV throws it, not a
  // tervit::Error.
  const auto failing = [](const cv::Mat& rgb8, Rng& rng) {
    const cv::Vec3b pixel = rgb8.at<cv::Vec3b>(0, 0);
    if (pixel[0] == 50 && pixel[1] == 120) throw cv::Exception(-215, "an assertion failed", "resize", "resize.cpp", 1);
    return first_pixel(rgb8, rng);
  };
  LoaderOptions options;
  options.batch_size = 8;
  options.workers = 2;
  DataLoader loader(dataset.samples, failing, options);
  const auto batches = run_epoch(loader, 0);
  CHECK(batches.size() == 3);
  CHECK(loader.bad_files() == std::vector<std::string>{victim});
  for (const auto& batch : batches)
    for (int64_t j = 0; j < batch.images.size(0); ++j)
      CHECK_FALSE((batch.images[j][0][0][0].item<float>() == 50.0f && batch.images[j][1][0][0].item<float>() == 120.0f));
}

TEST_CASE("Loader: all files bad stops with a clear error, not a hang", "[loader]") {
  TempDir dir;
  fs::create_directories(dir / "train" / "a");
  tervit::testing::write_bytes(dir / "train" / "a" / "zero.jpg", {});
  LoaderOptions options;
  options.batch_size = 1;
  options.max_replacements = 5;
  DataLoader loader(scan_image_folder(dir / "train").samples, first_pixel, options);
  loader.start_epoch(0);
  CHECK_THROWS_WITH(loader.next(), Catch::Contains("bad files in a row") && Catch::Contains("zero.jpg"));
}

TEST_CASE("Loader: destroyed mid-epoch shuts down cleanly; options are checked", "[loader]") {
  TempDir dir;
  make_image_folder(dir / "train");
  const ImageDataset dataset = scan_image_folder(dir / "train");
  const TrainTransform transform = small_train_transform();
  LoaderOptions options;
  options.batch_size = 2;
  options.workers = 3;
  options.prefetch_batches = 2;
  {
    DataLoader loader(dataset.samples, std::cref(transform), options);
    loader.start_epoch(0);
    CHECK(loader.next().has_value());
    loader.start_epoch(1);  // restart while workers are busy
    CHECK(loader.next()->index == 0);
  }  // destructor joins workers blocked on a full queue
  {
    DataLoader never_started(dataset.samples, std::cref(transform), options);
    CHECK_THROWS_WITH(never_started.next(), Catch::Contains("start_epoch"));
  }
  CHECK_THROWS_WITH(DataLoader({}, first_pixel, options), Catch::Contains("no samples"));
  options.mixup = MixupOptions{};
  options.batch_size = 3;
  CHECK_THROWS_WITH(DataLoader(dataset.samples, first_pixel, options), Catch::Contains("even"));
}
