// Training data pipeline throughput (images/s): read + decode + RandomResizedCrop(224, bicubic) + flip +
// ToTensor/Normalize, collated into batches by the DataLoader, for each worker-thread count (the loader's
// way: only the crop of each JPEG is decoded). The input is ~200 ImageNet-sized JPEGs (500x375 / 375x500)
// cut from the photos of Debian's python3-skimage; they are made in --data on the first run.
// tools/bench_data_torchvision.py measures the same work in torchvision. Besides wall-clock rates, both
// report images per CPU-second (all threads, or all processes), which a busy machine disturbs less.
//   build/bench_data --data /tmp/tervit-bench-data --threads 1,2
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "tervit/libtorch/app.h"
#include "tervit/core/error.h"
#include "tervit/libtorch/process.h"
#include "tervit/data/image_decode.h"
#include "tervit/data/image_folder.h"
#include "tervit/data/loader.h"
#include "tervit/data/random.h"
#include "tervit/data/train_transform.h"

namespace fs = std::filesystem;
using namespace tervit::data;
using namespace tervit::image;

namespace {

// The colour photos among skimage's sample images (the synthetic and tiny ones left out).
const char* const kPhotos[] = {"astronaut.png", "chelsea.png",         "coffee.png",       "hubble_deep_field.jpg",
                               "ihc.png",       "motorcycle_left.png", "motorcycle_right.png", "retina.jpg",
                               "rocket.jpg"};

// Random crops (40-100% of the photo's area) resized to 500x375, every fourth one to 375x500 (portrait),
// written as quality-90 JPEGs into two class folders.
void make_images(const fs::path& photos_dir, const fs::path& out, int count) {
  std::vector<cv::Mat> photos;
  for (const char* name : kPhotos) {
    if (fs::exists(photos_dir / name)) photos.push_back(read_image(photos_dir / name));
  }
  if (photos.empty()) throw tervit::Error(photos_dir.string() + ": no source photos (install python3-skimage)");
  const fs::path staging = out.string() + ".tmp";
  fs::remove_all(staging);
  Rng rng(2024);
  for (int i = 0; i < count; ++i) {
    const cv::Mat& photo = photos[static_cast<size_t>(i) % photos.size()];
    const bool portrait = i % 4 == 3;
    const double aspect = portrait ? 375.0 / 500.0 : 500.0 / 375.0;
    const double area = uniform(rng, 0.4, 1.0) * photo.cols * photo.rows;
    const int w = std::min(photo.cols, static_cast<int>(std::sqrt(area * aspect)));
    const int h = std::min(photo.rows, static_cast<int>(w / aspect));
    const cv::Rect box(static_cast<int>(uniform_int(rng, 0, photo.cols - w)), static_cast<int>(uniform_int(rng, 0, photo.rows - h)), w, h);
    cv::Mat resized, bgr;
    cv::resize(photo(box), resized, portrait ? cv::Size(375, 500) : cv::Size(500, 375), 0, 0, cv::INTER_AREA);
    cv::cvtColor(resized, bgr, cv::COLOR_RGB2BGR);
    const fs::path folder = staging / ("class" + std::to_string(i % 2));
    fs::create_directories(folder);
    char name[32];
    std::snprintf(name, sizeof(name), "%05d.jpg", i);
    if (!cv::imwrite((folder / name).string(), bgr, {cv::IMWRITE_JPEG_QUALITY, 90})) {
      throw tervit::Error((folder / name).string() + ": cannot write benchmark image");
    }
  }
  fs::rename(staging, out);
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct Rate {
  double wall;  // images per second
  double cpu;   // images per CPU-second of the whole process: per core, and less sensitive to a busy machine
};

// Runs `epochs` epochs after a warm-up one (page cache, allocator).
Rate measure(const ImageDataset& dataset, const TrainTransform& transform, int workers, int epochs) {
  LoaderOptions options;
  options.batch_size = 32;
  options.workers = workers;
  options.prefetch_batches = 2 * workers;
  options.drop_last = false;
  DataLoader loader(dataset.samples, std::cref(transform), options);
  int64_t images = 0;
  std::chrono::steady_clock::time_point start;
  double cpu_start = 0.0;
  for (int epoch = 0; epoch <= epochs; ++epoch) {
    if (epoch == 1) {
      start = std::chrono::steady_clock::now();
      cpu_start = cpu_seconds();
      images = 0;
    }
    loader.start_epoch(epoch);
    while (auto batch = loader.next()) images += batch->images.size(0);
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {images / wall, images / (cpu_seconds() - cpu_start)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_data: training data pipeline throughput"};
  std::string data_dir = "/tmp/tervit-bench-data";
  std::string photos_dir = "/usr/lib/python3/dist-packages/skimage/data";
  std::vector<int> threads{1, 2};
  int epochs = 5;
  app.add_option("--data", data_dir, "benchmark images (made here on the first run)")->capture_default_str();
  app.add_option("--photos", photos_dir, "source photos")->capture_default_str();
  app.add_option("--threads", threads, "worker thread counts")->delimiter(',')->capture_default_str();
  app.add_option("--epochs", epochs, "measured passes over the images")->capture_default_str();
  return tervit::run_app(app, argc, argv, [&] {
    if (!fs::exists(data_dir)) make_images(photos_dir, data_dir, 200);
    const ImageDataset dataset = scan_image_folder(data_dir);
    // One core per worker: no OpenCV or LibTorch thread pools inside the workers.
    cv::setNumThreads(0);
    tervit::set_threads(1);
    TrainTransformOptions options;  // timm's RandomResizedCrop(224, bicubic) and flip; nothing else
    options.color_jitter = {};
    const TrainTransform transform(options);
    std::printf("%-8s %10s %14s %14s\n", "threads", "images/s", "images/s/core", "images/cpu-s");
    for (const int t : threads) {
      const Rate rate = measure(dataset, transform, t, epochs);
      std::printf("%-8d %10.1f %14.1f %14.1f\n", t, rate.wall, rate.wall / t, rate.cpu);
      std::fflush(stdout);
    }
    return tervit::kExitOk;
  });
}
