#include "tervit/data/idx.h"

#include <spdlog/spdlog.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <opencv2/imgcodecs.hpp>
#include <string>

#include "tervit/core/error.h"

namespace fs = std::filesystem;

namespace tervit::data {
namespace {

constexpr uint8_t kUnsignedByteType = 0x08;

// Owns a zlib file handle; gzread also reads uncompressed files transparently.
class GzFile {
 public:
  explicit GzFile(const fs::path& path) : path_(path), handle_(gzopen(path.c_str(), "rb")) {
    if (handle_ == nullptr) throw Error(path.string() + ": cannot open IDX file");
  }
  ~GzFile() { gzclose(handle_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Reads up to `size` bytes, fewer only at the end of the data.
  size_t read(uint8_t* out, size_t size) {
    size_t total = 0;
    while (total < size) {
      const auto chunk = static_cast<unsigned>(std::min<size_t>(size - total, 1u << 20));
      const int count = gzread(handle_, out + total, chunk);
      if (count < 0) throw Error(path_.string() + ": corrupt gzip data (" + error_message() + ")");
      if (count == 0) break;
      total += static_cast<size_t>(count);
    }
    return total;
  }

  // zlib reports a gzip stream that ends early as Z_BUF_ERROR, not as a read error.
  bool stream_truncated() {
    int code = Z_OK;
    gzerror(handle_, &code);
    return code == Z_BUF_ERROR;
  }

 private:
  std::string error_message() {
    int code = Z_OK;
    return gzerror(handle_, &code);
  }

  fs::path path_;
  gzFile handle_;
};

std::vector<int64_t> read_header(GzFile& file, const fs::path& path) {
  std::array<uint8_t, 4> magic{};
  if (file.read(magic.data(), magic.size()) != magic.size()) throw Error(path.string() + ": too short for an IDX file");
  if (magic[0] != 0 || magic[1] != 0) throw Error(path.string() + ": not an IDX file (bad magic number)");
  if (magic[2] != kUnsignedByteType) {
    throw Error(path.string() + ": unsupported IDX element type " + std::to_string(magic[2]) +
                " (only unsigned byte, 0x08, is supported)");
  }
  const int rank = magic[3];
  if (rank == 0) throw Error(path.string() + ": IDX file declares zero dimensions");
  std::vector<uint8_t> raw(static_cast<size_t>(rank) * 4);
  if (file.read(raw.data(), raw.size()) != raw.size()) throw Error(path.string() + ": truncated IDX header");
  std::vector<int64_t> dims(rank);
  for (int d = 0; d < rank; ++d) {
    const uint8_t* b = &raw[static_cast<size_t>(d) * 4];  // big-endian
    dims[d] = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | int64_t{b[3]};
    if (dims[d] == 0) throw Error(path.string() + ": IDX dimension " + std::to_string(d) + " is zero");
  }
  return dims;
}

int64_t element_count(const std::vector<int64_t>& dims, const fs::path& path) {
  int64_t count = 1;
  for (const int64_t dim : dims) {
    if (count > std::numeric_limits<int64_t>::max() / dim) throw Error(path.string() + ": IDX dimensions overflow");
    count *= dim;
  }
  return count;
}

struct FashionMnistClass {
  const char* folder;  // sorts in label order
  const char* name;
};

constexpr std::array<FashionMnistClass, 10> kFashionMnistClasses{{
    {"0_tshirt_top", "T-shirt/top"},
    {"1_trouser", "Trouser"},
    {"2_pullover", "Pullover"},
    {"3_dress", "Dress"},
    {"4_coat", "Coat"},
    {"5_sandal", "Sandal"},
    {"6_shirt", "Shirt"},
    {"7_sneaker", "Sneaker"},
    {"8_bag", "Bag"},
    {"9_ankle_boot", "Ankle boot"},
}};

// The export marker: written last into the staging folder, so its presence means "complete".
constexpr const char* kMarkerFile = ".tervit-export";

std::string marker_text(int64_t limit_per_split) {
  return "fashion-mnist limit_per_split=" + std::to_string(std::max<int64_t>(limit_per_split, -1)) + "\n";
}

std::string read_text(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary);
  file << text;
  if (!file.flush()) throw Error(path.string() + ": cannot write file");
}

// The published files are gzipped; unpacked copies work too.
fs::path find_idx_file(const fs::path& dir, const std::string& stem) {
  for (const fs::path& candidate : {dir / (stem + ".gz"), dir / stem}) {
    if (fs::exists(candidate)) return candidate;
  }
  throw Error((dir / (stem + ".gz")).string() + ": Fashion-MNIST file not found (nor its unpacked form)");
}

// Writes one split (train or val) as <split_dir>/<class folder>/<index>.png.
void export_split(const fs::path& images_path, const fs::path& labels_path, const fs::path& split_dir, int64_t limit) {
  const IdxArray images = read_idx(images_path);
  const IdxArray labels = read_idx(labels_path);
  if (images.dims.size() != 3) throw Error(images_path.string() + ": expected images of shape [N, rows, cols]");
  if (labels.dims.size() != 1 || labels.dims[0] != images.dims[0]) {
    throw Error(labels_path.string() + ": expected " + std::to_string(images.dims[0]) + " labels, as " +
                images_path.filename().string() + " has images");
  }
  const int rows = static_cast<int>(images.dims[1]);
  const int cols = static_cast<int>(images.dims[2]);
  const int64_t count = limit < 0 ? images.dims[0] : std::min(limit, images.dims[0]);

  for (const FashionMnistClass& c : kFashionMnistClasses) fs::create_directories(split_dir / c.folder);
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t label = labels.data[static_cast<size_t>(i)];
    if (label >= kFashionMnistClasses.size()) {
      throw Error(labels_path.string() + ": label " + std::to_string(label) + " at index " + std::to_string(i) +
                  " is not a Fashion-MNIST class (0..9)");
    }
    char file_name[32];
    std::snprintf(file_name, sizeof file_name, "%05lld.png", static_cast<long long>(i));
    const fs::path out = split_dir / kFashionMnistClasses[label].folder / file_name;
    const cv::Mat image(rows, cols, CV_8UC1, const_cast<uint8_t*>(&images.data[static_cast<size_t>(i) * rows * cols]));
    if (!cv::imwrite(out.string(), image)) throw Error(out.string() + ": cannot write PNG");
  }
  spdlog::info("wrote {} images to {}", count, split_dir.string());
}

}  // namespace

IdxArray read_idx(const fs::path& path) {
  GzFile file(path);
  IdxArray array;
  array.dims = read_header(file, path);
  const auto expected = static_cast<size_t>(element_count(array.dims, path));
  // Grow with the data actually read, so a corrupt header cannot demand a huge allocation up front.
  constexpr size_t kChunk = size_t{1} << 24;
  size_t total = 0;
  while (total < expected) {
    array.data.resize(total + std::min(kChunk, expected - total));
    const size_t wanted = array.data.size() - total;
    const size_t got = file.read(array.data.data() + total, wanted);
    total += got;
    if (got < wanted) break;
  }
  uint8_t extra = 0;
  const bool has_extra = total == expected && file.read(&extra, 1) == 1;
  if (file.stream_truncated()) throw Error(path.string() + ": truncated gzip stream");
  if (total != expected || has_extra) {
    throw Error(path.string() + ": IDX payload " + (has_extra ? "is longer than" : "is shorter than") +
                " its dimensions say (" + std::to_string(expected) + " bytes)");
  }
  return array;
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    for (const FashionMnistClass& c : kFashionMnistClasses) list.emplace_back(c.name);
    return list;
  }();
  return names;
}

void export_fashion_mnist(const fs::path& source_dir, const fs::path& out_dir, int64_t limit_per_split) {
  fs::path target = fs::absolute(out_dir).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();  // "out/" -> "out"
  const std::string marker = marker_text(limit_per_split);

  if (fs::exists(target)) {
    const fs::path marker_path = target / kMarkerFile;
    if (fs::exists(marker_path) && read_text(marker_path) == marker) {
      spdlog::info("{} already holds this Fashion-MNIST export, nothing to do", target.string());
      return;
    }
    // An export of ours with another limit may be replaced; anything else is not ours to delete.
    if (!fs::exists(marker_path) && !fs::is_empty(target)) {
      throw Error(target.string() + ": exists and is not a Fashion-MNIST export; refusing to overwrite it");
    }
  }

  const fs::path train_images = find_idx_file(source_dir, "train-images-idx3-ubyte");
  const fs::path train_labels = find_idx_file(source_dir, "train-labels-idx1-ubyte");
  const fs::path val_images = find_idx_file(source_dir, "t10k-images-idx3-ubyte");
  const fs::path val_labels = find_idx_file(source_dir, "t10k-labels-idx1-ubyte");

  // A fixed staging name means a later run cleans up what an interrupted one left.
  const fs::path staging = target.parent_path() / (target.filename().string() + ".partial");
  fs::remove_all(staging);
  fs::create_directories(staging);
  export_split(train_images, train_labels, staging / "train", limit_per_split);
  export_split(val_images, val_labels, staging / "val", limit_per_split);
  std::string classes;
  for (const std::string& name : fashion_mnist_class_names()) classes += name + "\n";
  write_text(staging / "classes.txt", classes);
  write_text(staging / kMarkerFile, marker);

  fs::remove_all(target);
  fs::rename(staging, target);
  spdlog::info("Fashion-MNIST exported to {}", target.string());
}

}  // namespace tervit::data
