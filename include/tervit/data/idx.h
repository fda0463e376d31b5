#pragma once
// IDX files (the MNIST / Fashion-MNIST container) and the export of Fashion-MNIST as an ImageFolder of
// PNGs, so that the small demo data set goes through the same file-based pipeline as ImageNet.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tervit::data {

// An unsigned-byte IDX array: dims (e.g. {10000, 28, 28}) and the row-major payload.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Reads a plain or gzip-compressed IDX file of element type unsigned byte (0x08). Throws tervit::Error
// naming the file for a bad magic number or element type, bad dimensions, a payload that is shorter or
// longer than the dimensions say, and a truncated or corrupt gzip stream.
IdxArray read_idx(const std::filesystem::path& path);

// Fashion-MNIST's class names in label order ("T-shirt/top", "Trouser", ...).
const std::vector<std::string>& fashion_mnist_class_names();

// Writes the Fashion-MNIST IDX files of source_dir (train-*-ubyte.gz, t10k-*-ubyte.gz) as
//   out_dir/train/<label>_<class>/<index>.png and out_dir/val/<label>_<class>/<index>.png
// (grayscale 28x28; folder names sort in label order, e.g. "0_tshirt_top"; <index> is the zero-padded
// position in the split) plus out_dir/classes.txt with one class name per line. limit_per_split >= 0
// keeps only the first N images of each split. The export is built in a sibling folder and renamed into
// place, so out_dir is either absent or complete; an out_dir already holding a complete export with the
// same limit is left as is. Throws tervit::Error if out_dir exists and holds something else.
void export_fashion_mnist(const std::filesystem::path& source_dir, const std::filesystem::path& out_dir,
                          int64_t limit_per_split = -1);

}  // namespace tervit::data
