// libFuzzer target: the image folder's index cache, a text file beside the data that anything may have
// damaged. The target makes a small image folder (classes a and b, every folder's time set to one fixed
// value so that seeds can hold it); the input is the cache file's text, with "@ROOT@" standing for that
// folder's path. A cache that reads must describe files inside the folder, with labels of its classes.
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tervit/data/image_folder.h"

namespace fs = std::filesystem;

namespace {

// 2001-09-09 01:46:40 UTC, in the file clock's ticks as the seeds write it.
const fs::file_time_type kFolderTime{std::chrono::seconds(1000000000)};

fs::path make_image_folder() {
  const auto root = fs::temp_directory_path() / ("fuzz-index-cache-set-" + std::to_string(::getpid()));
  for (const auto* label : {"a", "b"}) {
    fs::create_directories(root / label);
    std::ofstream(root / label / "x.png") << "not decoded by the index";
    fs::last_write_time(root / label, kFolderTime);
  }
  fs::last_write_time(root, kFolderTime);
  return root;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fs::path root = make_image_folder();
  static const fs::path cache_file = root.string() + ".tervit-index";
  std::string text(reinterpret_cast<const char*>(data), size);
  for (size_t at = text.find("@ROOT@"); at != std::string::npos; at = text.find("@ROOT@", at + root.string().size()))
    text.replace(at, 6, root.string());
  std::ofstream(cache_file, std::ios::binary | std::ios::trunc) << text;
  const auto dataset = tervit::data::read_index_cache(cache_file, root);
  if (!dataset) return 0;
  for (const auto& sample : dataset->samples) {
    if (sample.label < 0 || sample.label >= static_cast<int64_t>(dataset->classes.size())) std::abort();
    if (sample.path.lexically_normal().string().rfind(root.string() + "/", 0) != 0) std::abort();
  }
  return 0;
}
