#pragma once
// The data set index: which image files exist and their labels, as torchvision's ImageFolder sees a
// folder (one subfolder per class, classes sorted by name, label = position), or as a file list.
// Scanning ImageNet's 1.28 M files takes minutes on a cold disk, so the index is cached in a small text
// file and reused while the folder's directories keep their modification times.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tervit::data {

struct Sample {
  std::filesystem::path path;
  int64_t label = 0;
};

struct ImageDataset {
  std::vector<std::string> classes;  // class names in label order
  std::vector<Sample> samples;       // sorted as torchvision sorts them
};

// torchvision's IMG_EXTENSIONS, compared case-insensitively on the end of the file name:
// .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp.
bool has_image_extension(const std::filesystem::path& file);

// Indexes `root` as torchvision.datasets.ImageFolder does: classes = sorted names of the subfolders,
// samples = image files found recursively in each class folder (symbolic links followed), walked in
// sorted order. Throws tervit::Error naming the folder when root is missing or not a folder, has no
// class subfolders, or a class folder holds no image file.
ImageDataset scan_image_folder(const std::filesystem::path& root);

// Where the index of `root` is cached: beside the folder (<parent>/<name>.tervit-index) when cache_dir
// is empty, else in cache_dir under a name derived from root's absolute path.
std::filesystem::path index_cache_path(const std::filesystem::path& root, const std::filesystem::path& cache_dir = {});

// The cached index of `root` in cache_file, or nullopt when the file is missing, unreadable, made for
// another folder, or stale (a folder of the tree was added, removed or changed since it was written).
std::optional<ImageDataset> read_index_cache(const std::filesystem::path& cache_file, const std::filesystem::path& root);

// scan_image_folder with the cache: reuses a fresh cached index, otherwise scans and (re)writes the cache.
// A cache that cannot be written is logged and skipped; the scan result is returned anyway.
ImageDataset load_image_folder(const std::filesystem::path& root, const std::filesystem::path& cache_dir = {});

// A file list: one "<path> <label>" per line (the label is the last field, so paths may hold spaces;
// blank lines are skipped). Relative paths are taken relative to base_dir, by default the list's own
// folder. Classes are named "0".."max label". Throws tervit::Error naming file and line for a malformed
// line or negative label, and for a missing or empty list.
ImageDataset read_file_list(const std::filesystem::path& list_file, const std::filesystem::path& base_dir = {});

}  // namespace tervit::data
