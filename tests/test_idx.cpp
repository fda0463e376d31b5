#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <string>
#include <vector>

#include "tervit/core/error.h"
#include "tervit/data/idx.h"
#include "test_helpers.h"

namespace fs = std::filesystem;
using namespace tervit::data;

using tervit::testing::read_bytes;
using tervit::testing::TempDir;
using tervit::testing::write_bytes;

namespace {

const fs::path kFashionMnist = "/usr/share/datasets/fashion-mnist";

size_t count_files(const fs::path& dir) {
  size_t count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) count += entry.is_regular_file() ? 1 : 0;
  return count;
}

// Checks that read_idx throws a tervit::Error that names the file.
void require_idx_error(const fs::path& path) {
  CHECK_THROWS_AS(read_idx(path), tervit::Error);
  CHECK_THROWS_WITH(read_idx(path), Catch::Contains(path.filename().string()));
}

}  // namespace

TEST_CASE("read_idx reads the Fashion-MNIST test labels and images", "[data]") {
  const IdxArray labels = read_idx(kFashionMnist / "t10k-labels-idx1-ubyte.gz");
  REQUIRE(labels.dims == std::vector<int64_t>{10000});
  REQUIRE(labels.data.size() == 10000);
  CHECK(std::vector<uint8_t>(labels.data.begin(), labels.data.begin() + 10) ==
        std::vector<uint8_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7});
  std::array<int, 10> per_class{};
  for (const uint8_t label : labels.data) {
    REQUIRE(label < 10);
    ++per_class[label];
  }
  for (const int count : per_class) CHECK(count == 1000);

  const IdxArray images = read_idx(kFashionMnist / "t10k-images-idx3-ubyte.gz");
  REQUIRE(images.dims == std::vector<int64_t>{10000, 28, 28});
  REQUIRE(images.data.size() == 10000u * 28 * 28);
  int64_t first_image_sum = 0;
  for (size_t i = 0; i < 28 * 28; ++i) first_image_sum += images.data[i];
  CHECK(first_image_sum == 33456);  // computed with numpy from the same file
}

TEST_CASE("read_idx reads uncompressed files and rejects corrupt ones naming the file", "[data]") {
  TempDir tmp;
  const std::vector<uint8_t> valid{0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
  write_bytes(tmp / "valid.idx", valid);
  const IdxArray array = read_idx(tmp / "valid.idx");
  CHECK(array.dims == std::vector<int64_t>{2, 3});
  CHECK(array.data == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});

  std::vector<uint8_t> bad_magic = valid;
  bad_magic[0] = 0x1F;
  write_bytes(tmp / "bad_magic.idx", bad_magic);
  require_idx_error(tmp / "bad_magic.idx");

  std::vector<uint8_t> float_type = valid;
  float_type[2] = 0x0D;
  write_bytes(tmp / "float_type.idx", float_type);
  require_idx_error(tmp / "float_type.idx");

  write_bytes(tmp / "short_payload.idx", std::vector<uint8_t>(valid.begin(), valid.end() - 1));
  require_idx_error(tmp / "short_payload.idx");

  std::vector<uint8_t> long_payload = valid;
  long_payload.push_back(7);
  write_bytes(tmp / "long_payload.idx", long_payload);
  require_idx_error(tmp / "long_payload.idx");

  write_bytes(tmp / "short_header.idx", std::vector<uint8_t>(valid.begin(), valid.begin() + 6));
  require_idx_error(tmp / "short_header.idx");

  std::vector<uint8_t> gzip = read_bytes(kFashionMnist / "t10k-labels-idx1-ubyte.gz");
  gzip.resize(gzip.size() / 2);
  write_bytes(tmp / "truncated.gz", gzip);
  require_idx_error(tmp / "truncated.gz");

  require_idx_error(tmp / "missing.idx");
}

TEST_CASE("export_fashion_mnist writes an ImageFolder and is idempotent", "[data]") {
  TempDir tmp;
  const fs::path out = tmp / "fashion";
  export_fashion_mnist(kFashionMnist, out, 20);

  CHECK(count_files(out / "train") == 20);
  CHECK(count_files(out / "val") == 20);
  CHECK_FALSE(fs::exists(tmp / "fashion.partial"));
  std::vector<std::string> folders;
  for (const auto& entry : fs::directory_iterator(out / "train")) folders.push_back(entry.path().filename().string());
  std::sort(folders.begin(), folders.end());
  CHECK(folders == std::vector<std::string>{"0_tshirt_top", "1_trouser", "2_pullover", "3_dress", "4_coat", "5_sandal",
                                            "6_shirt", "7_sneaker", "8_bag", "9_ankle_boot"});

  // Each PNG sits in its label's folder and holds exactly the IDX bytes.
  const IdxArray labels = read_idx(kFashionMnist / "t10k-labels-idx1-ubyte.gz");
  const IdxArray images = read_idx(kFashionMnist / "t10k-images-idx3-ubyte.gz");
  for (int i = 0; i < 20; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%05d.png", i);
    const fs::path png = out / "val" / folders[labels.data[i]] / name;
    INFO(png.string());
    const cv::Mat image = cv::imread(png.string(), cv::IMREAD_UNCHANGED);
    REQUIRE(image.type() == CV_8UC1);
    REQUIRE(image.size() == cv::Size(28, 28));
    CHECK(std::equal(image.datastart, image.dataend, images.data.begin() + i * 28 * 28));
  }

  std::ifstream classes_file(out / "classes.txt");
  std::vector<std::string> classes;
  for (std::string line; std::getline(classes_file, line);) classes.push_back(line);
  CHECK(classes == fashion_mnist_class_names());
  REQUIRE(classes.size() == 10);
  CHECK(classes[0] == "T-shirt/top");
  CHECK(classes[9] == "Ankle boot");

  // Same limit: nothing is rewritten. Another limit: the old export is replaced.
  const auto written = fs::last_write_time(out / "classes.txt");
  export_fashion_mnist(kFashionMnist, out, 20);
  CHECK(fs::last_write_time(out / "classes.txt") == written);
  export_fashion_mnist(kFashionMnist, out, 5);
  CHECK(count_files(out / "train") == 5);
  CHECK(count_files(out / "val") == 5);
}

TEST_CASE("export_fashion_mnist refuses to overwrite a foreign folder and names missing sources", "[data]") {
  TempDir tmp;
  fs::create_directories(tmp / "mine");
  write_bytes(tmp / "mine" / "notes.txt", {'h', 'i'});
  CHECK_THROWS_AS(export_fashion_mnist(kFashionMnist, tmp / "mine", 3), tervit::Error);
  CHECK(fs::exists(tmp / "mine" / "notes.txt"));

  CHECK_THROWS_AS(export_fashion_mnist(tmp / "nowhere", tmp / "out", 3), tervit::Error);
  CHECK_THROWS_WITH(export_fashion_mnist(tmp / "nowhere", tmp / "out", 3),
                    Catch::Contains("train-images-idx3-ubyte"));
  CHECK_FALSE(fs::exists(tmp / "out"));
}
