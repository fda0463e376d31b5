#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <thread>

#include "test_helpers.h"
#include "tervit/core/error.h"
#include "tervit/data/image_folder.h"

namespace fs = std::filesystem;
using tervit::testing::TempDir;
using namespace tervit::data;

namespace {

void write_png(const fs::path& path) {
  fs::create_directories(path.parent_path());
  REQUIRE(cv::imwrite(path.string(), cv::Mat(4, 4, CV_8UC3, cv::Scalar(10, 20, 30))));
}

void touch(const fs::path& path) { std::ofstream(path) << "x"; }

// root/{b_dog,a_cat,c_empty?}: classes deliberately created out of order.
void make_folder(const fs::path& root) {
  write_png(root / "b_dog" / "2.png");
  write_png(root / "b_dog" / "10.PNG");
  write_png(root / "b_dog" / "sub" / "1.png");
  write_png(root / "a_cat" / "x.png");
  fs::copy_file(root / "a_cat" / "x.png", root / "a_cat" / "y.JPEG");  // extension any case
  touch(root / "a_cat" / "notes.txt");                                // ignored: not an image extension
  touch(root / "readme.txt");                                         // files at the top are no class
}

std::vector<std::string> relative_paths(const ImageDataset& dataset, const fs::path& root) {
  std::vector<std::string> paths;
  for (const auto& sample : dataset.samples) paths.push_back(fs::relative(sample.path, root).generic_string());
  return paths;
}

}  // namespace

TEST_CASE("ImageFolder: sorted classes, labels and files as torchvision", "[loader]") {
  TempDir dir;
  make_folder(dir / "train");
  const ImageDataset dataset = scan_image_folder(dir / "train");
  CHECK(dataset.classes == std::vector<std::string>{"a_cat", "b_dog"});
  // sorted(os.walk()): the folder's own files ('10.PNG' < '2.png' byte-wise) before its subfolder's.
  CHECK(relative_paths(dataset, dir / "train") ==
        std::vector<std::string>{"a_cat/x.png", "a_cat/y.JPEG", "b_dog/10.PNG", "b_dog/2.png", "b_dog/sub/1.png"});
  std::vector<int64_t> labels;
  for (const auto& sample : dataset.samples) labels.push_back(sample.label);
  CHECK(labels == std::vector<int64_t>{0, 0, 1, 1, 1});
}

TEST_CASE("ImageFolder: extensions", "[loader]") {
  for (const char* name : {"a.jpg", "a.JPG", "b.jpeg", "c.png", "d.bmp", "e.webp", "f.tif", "g.TIFF", "h.ppm", "i.pgm"})
    CHECK(has_image_extension(name));
  for (const char* name : {"a.txt", "a.gif", "jpg", "a.jpg.bak", "a.svg"}) CHECK_FALSE(has_image_extension(name));
}

TEST_CASE("ImageFolder: errors name the folder", "[loader]") {
  TempDir dir;
  CHECK_THROWS_WITH(scan_image_folder(dir / "missing"), Catch::Contains("missing") && Catch::Contains("not found"));
  fs::create_directories(dir / "no_classes");
  touch(dir / "no_classes" / "a.png");
  CHECK_THROWS_WITH(scan_image_folder(dir / "no_classes"), Catch::Contains("no_classes") && Catch::Contains("no class"));
  write_png(dir / "root" / "full" / "a.png");
  fs::create_directories(dir / "root" / "empty");
  touch(dir / "root" / "empty" / "a.txt");
  CHECK_THROWS_WITH(scan_image_folder(dir / "root"), Catch::Contains("empty") && Catch::Contains("no image file"));
}

TEST_CASE("ImageFolder: index cache reused while unchanged, rebuilt after a change", "[loader]") {
  TempDir dir;
  const fs::path root = dir / "train";
  make_folder(root);
  const fs::path cache_dir = dir / "cache";

  SECTION("cache beside the data by default") {
    CHECK(index_cache_path(root) == dir.path() / "train.tervit-index");
    CHECK(index_cache_path(root.string() + "/") == dir.path() / "train.tervit-index");
  }

  const fs::path cache = index_cache_path(root, cache_dir);
  CHECK(cache.parent_path() == cache_dir);
  CHECK_FALSE(read_index_cache(cache, root).has_value());
  const ImageDataset first = load_image_folder(root, cache_dir);
  REQUIRE(fs::exists(cache));
  const auto cached = read_index_cache(cache, root);
  REQUIRE(cached.has_value());
  CHECK(cached->classes == first.classes);
  CHECK(relative_paths(*cached, root) == relative_paths(first, root));
  CHECK(read_index_cache(cache, dir / "other") == std::nullopt);  // made for another folder

  SECTION("a new file in a nested folder makes it stale") {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    write_png(root / "b_dog" / "sub" / "0.png");
    CHECK_FALSE(read_index_cache(cache, root).has_value());
    const ImageDataset second = load_image_folder(root, cache_dir);
    CHECK(second.samples.size() == first.samples.size() + 1);
    CHECK(read_index_cache(cache, root).has_value());
  }
  SECTION("a new class makes it stale") {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    write_png(root / "0_first" / "a.png");
    const ImageDataset second = load_image_folder(root, cache_dir);
    CHECK(second.classes.front() == "0_first");
    CHECK(second.samples.back().label == 2);
  }
  SECTION("a corrupt cache is ignored") {
    std::ofstream(cache) << "garbage\n";
    CHECK_FALSE(read_index_cache(cache, root).has_value());
    CHECK(load_image_folder(root, cache_dir).samples.size() == first.samples.size());
  }
}

TEST_CASE("File list: path and label per line", "[loader]") {
  TempDir dir;
  std::ofstream(dir / "list.txt") << "img/a b.jpg 2\n\n/abs/c.png\t0\r\n";
  const ImageDataset dataset = read_file_list(dir / "list.txt");
  REQUIRE(dataset.samples.size() == 2);
  CHECK(dataset.samples[0].path == dir.path() / "img/a b.jpg");
  CHECK(dataset.samples[0].label == 2);
  CHECK(dataset.samples[1].path == fs::path("/abs/c.png"));
  CHECK(dataset.samples[1].label == 0);
  CHECK(dataset.classes == std::vector<std::string>{"0", "1", "2"});
  CHECK(read_file_list(dir / "list.txt", "/data").samples[0].path == fs::path("/data/img/a b.jpg"));

  std::ofstream(dir / "bad.txt") << "a.jpg 1\nb.jpg cat\n";
  CHECK_THROWS_WITH(read_file_list(dir / "bad.txt"), Catch::Contains("bad.txt:2") && Catch::Contains("cat"));
  std::ofstream(dir / "nolabel.txt") << "a.jpg\n";
  CHECK_THROWS_WITH(read_file_list(dir / "nolabel.txt"), Catch::Contains("nolabel.txt:1"));
  std::ofstream(dir / "negative.txt") << "a.jpg -1\n";
  CHECK_THROWS_WITH(read_file_list(dir / "negative.txt"), Catch::Contains("negative label"));
  std::ofstream(dir / "empty.txt") << "\n";
  CHECK_THROWS_WITH(read_file_list(dir / "empty.txt"), Catch::Contains("no samples"));
  CHECK_THROWS_AS(read_file_list(dir / "missing.txt"), tervit::Error);
}
