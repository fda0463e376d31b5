#include "tervit/data/image_folder.h"
#include "tervit/core/strings.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <set>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "tervit/core/error.h"
#include "tervit/core/file_bytes.h"

namespace fs = std::filesystem;

namespace tervit::data {
namespace {

constexpr const char* kCacheMagic = "tervit-image-folder-index 1";

// A folder of the tree and its modification time when it was listed: adding, removing or renaming an
// entry changes its folder's mtime, so comparing these stamps tells whether the index is stale.
struct FolderStamp {
  std::string relative;  // generic form, "." for the root
  int64_t mtime = 0;
};

struct Scan {
  ImageDataset dataset;
  std::vector<FolderStamp> folders;
  std::set<std::pair<dev_t, ino_t>> visited;  // every folder indexed, by identity (links resolved)
};

// Folders are walked through symbolic links (as torchvision's os.walk(followlinks=True)), so a link to a
// folder already indexed (a loop such as `up -> ..`, or a second way to the same folder) would index its
// images again, under whatever class holds the link: refused, naming the link.
void visit_once(const fs::path& folder, Scan& scan) {
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0) throw Error(folder.string() + ": cannot read folder");
  if (!scan.visited.emplace(st.st_dev, st.st_ino).second)
    throw Error(folder.string() + ": a folder already indexed under another path (a symbolic link loop or a second link to it), "
                "whose images would count twice: remove the link");
}

std::optional<int64_t> modification_time(const fs::path& folder) {
  std::error_code error;
  const auto time = fs::last_write_time(folder, error);
  if (error) return std::nullopt;
  return static_cast<int64_t>(time.time_since_epoch().count());
}

std::string relative_name(const fs::path& path, const fs::path& root) {
  return path == root ? std::string(".") : path.lexically_relative(root).generic_string();
}

fs::path normalized_root(const fs::path& root) {
  fs::path absolute = fs::absolute(root).lexically_normal();
  if (absolute.filename().empty()) absolute = absolute.parent_path();  // "data/train/" -> "data/train"
  return absolute;
}

// Stamps `folder` (before listing it, so a change during the scan makes the index stale) and returns
// its subfolders and image file names, each sorted.
std::pair<std::vector<fs::path>, std::vector<std::string>> list_folder(const fs::path& folder, const fs::path& root,
                                                                       std::vector<FolderStamp>& stamps) {
  const auto mtime = modification_time(folder);
  if (!mtime) throw Error(folder.string() + ": cannot read folder");
  stamps.push_back({relative_name(folder, root), *mtime});
  std::vector<fs::path> subfolders;
  std::vector<std::string> images;
  std::error_code error;
  for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    std::error_code type_error;
    if (it->is_directory(type_error)) {  // follows symbolic links, like torchvision
      subfolders.push_back(it->path());
    } else if (has_image_extension(it->path())) {
      images.push_back(it->path().filename().string());
    }
  }
  if (error) throw Error(folder.string() + ": cannot list folder: " + error.message());
  std::sort(subfolders.begin(), subfolders.end());
  std::sort(images.begin(), images.end());
  return {std::move(subfolders), std::move(images)};
}

// torchvision walks a class folder with sorted(os.walk(...)): folders in order of their path strings,
// files sorted within each folder.
void index_class_folder(const fs::path& class_folder, int64_t label, const fs::path& root, Scan& scan) {
  std::vector<std::pair<std::string, fs::path>> pending{{class_folder.generic_string(), class_folder}};
  std::vector<std::pair<std::string, std::vector<std::string>>> listed;
  while (!pending.empty()) {
    const fs::path folder = pending.back().second;
    pending.pop_back();
    visit_once(folder, scan);
    auto [subfolders, images] = list_folder(folder, root, scan.folders);
    for (auto& sub : subfolders) pending.emplace_back(sub.generic_string(), std::move(sub));
    listed.emplace_back(folder.generic_string(), std::move(images));
  }
  std::sort(listed.begin(), listed.end());
  const size_t before = scan.dataset.samples.size();
  for (const auto& [folder, images] : listed) {
    for (const auto& image : images) scan.dataset.samples.push_back({fs::path(folder) / image, label});
  }
  if (scan.dataset.samples.size() == before) {
    throw Error(class_folder.string() +
                ": class folder holds no image file (.jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp)");
  }
}

Scan scan_with_stamps(const fs::path& root_in) {
  const fs::path root = normalized_root(root_in);
  std::error_code error;
  if (!fs::exists(root, error)) throw Error(root_in.string() + ": image folder not found");
  if (!fs::is_directory(root, error)) throw Error(root_in.string() + ": not a folder");
  Scan scan;
  visit_once(root, scan);
  const auto class_folders = list_folder(root, root, scan.folders).first;
  if (class_folders.empty()) {
    throw Error(root_in.string() + ": no class subfolders (an image folder holds one subfolder per class)");
  }
  for (size_t label = 0; label < class_folders.size(); ++label) {
    scan.dataset.classes.push_back(class_folders[label].filename().string());
    index_class_folder(class_folders[label], static_cast<int64_t>(label), root, scan);
  }
  return scan;
}

bool has_newline(const std::string& text) { return text.find('\n') != std::string::npos; }

// The text format, one record per line, paths last so that they may hold spaces:
//   magic / "root <path>" / "folders N" + N x "<mtime> <path>" / "classes N" + N x "<name>" /
//   "samples N" + N x "<label> <relative path>".
void write_index_cache(const fs::path& cache_file, const fs::path& root, const Scan& scan) {
  for (const auto& sample : scan.dataset.samples) {
    if (has_newline(sample.path.string())) {
      spdlog::warn("{}: a file name holds a newline; the index is not cached", sample.path.string());
      return;
    }
  }
  std::error_code error;
  if (!cache_file.parent_path().empty()) fs::create_directories(cache_file.parent_path(), error);
  const fs::path temporary = cache_file.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << kCacheMagic << "\nroot " << root.string() << "\nfolders " << scan.folders.size() << '\n';
    for (const auto& folder : scan.folders) out << folder.mtime << ' ' << folder.relative << '\n';
    out << "classes " << scan.dataset.classes.size() << '\n';
    for (const auto& name : scan.dataset.classes) out << name << '\n';
    out << "samples " << scan.dataset.samples.size() << '\n';
    for (const auto& sample : scan.dataset.samples) {
      out << sample.label << ' ' << sample.path.lexically_relative(root).generic_string() << '\n';
    }
    if (!out.flush()) {
      spdlog::warn("{}: cannot write the image folder index cache", cache_file.string());
      fs::remove(temporary, error);
      return;
    }
  }
  fs::rename(temporary, cache_file, error);  // atomic: readers see the old or the new index, never half
  if (error) {
    spdlog::warn("{}: cannot write the image folder index cache: {}", cache_file.string(), error.message());
    fs::remove(temporary, error);
  }
}

// Reads "<keyword> <count>".
bool read_count(std::istream& in, const std::string& keyword, size_t& count) {
  std::string line;
  if (!std::getline(in, line) || line.rfind(keyword + ' ', 0) != 0) return false;
  try {
    count = std::stoull(line.substr(keyword.size() + 1));
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// Splits "<integer> <rest>"; rest may hold spaces.
bool split_number(const std::string& line, int64_t& number, std::string& rest) {
  const size_t space = line.find(' ');
  if (space == std::string::npos) return false;
  try {
    size_t used = 0;
    number = std::stoll(line.substr(0, space), &used);
    if (used != space) return false;
  } catch (const std::exception&) {
    return false;
  }
  rest = line.substr(space + 1);
  return true;
}

// FNV-1a: a stable name for a folder's cache file inside a shared cache dir.
std::string path_hash(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ULL;
  std::ostringstream hex;
  hex << std::hex << hash;
  return hex.str();
}

}  // namespace

bool has_image_extension(const fs::path& file) {
  static const std::array<std::string, 9> kExtensions{".jpg", ".jpeg", ".png", ".ppm", ".bmp",
                                                       ".pgm", ".tif",  ".tiff", ".webp"};
  const std::string name = lowercase(file.filename().string());
  return std::any_of(kExtensions.begin(), kExtensions.end(), [&](const std::string& ext) { return ends_with(name, ext); });
}

ImageDataset scan_image_folder(const fs::path& root) { return scan_with_stamps(root).dataset; }

fs::path index_cache_path(const fs::path& root, const fs::path& cache_dir) {
  const fs::path absolute = normalized_root(root);
  const std::string name = absolute.filename().string();
  if (cache_dir.empty()) return absolute.parent_path() / (name + ".tervit-index");
  return cache_dir / (name + "-" + path_hash(absolute.string()) + ".tervit-index");
}

std::optional<ImageDataset> read_index_cache(const fs::path& cache_file, const fs::path& root_in) {
  // Any damage (a FIFO or folder in its place, a count of 10^18, a path leaving the folder) means "no
  // cache": the folder is scanned again and the cache rewritten.
  std::string text;
  try {
    text = read_file_text(cache_file);
  } catch (const Error&) {
    return std::nullopt;
  }
  std::istringstream in(text);
  // Each entry takes a line of at least two bytes: a larger count is damage, not a size to allocate.
  const auto count_fits = [&](size_t count) { return count <= text.size() / 2; };
  // A cached path names a file inside root, as the scan wrote it.
  const auto inside_root = [](const fs::path& relative) {
    return !relative.empty() && relative.is_relative() &&
           std::none_of(relative.begin(), relative.end(), [](const fs::path& part) { return part == ".."; });
  };
  const fs::path root = normalized_root(root_in);
  std::string line;
  if (!std::getline(in, line) || line != kCacheMagic) return std::nullopt;
  if (!std::getline(in, line) || line != "root " + root.string()) return std::nullopt;
  size_t count = 0;
  if (!read_count(in, "folders", count) || !count_fits(count)) return std::nullopt;
  for (size_t i = 0; i < count; ++i) {
    int64_t mtime = 0;
    std::string relative;
    if (!std::getline(in, line) || !split_number(line, mtime, relative)) return std::nullopt;
    if (modification_time(relative == "." ? root : root / relative) != mtime) return std::nullopt;
  }
  ImageDataset dataset;
  if (!read_count(in, "classes", count) || !count_fits(count)) return std::nullopt;
  dataset.classes.resize(count);
  for (auto& name : dataset.classes) {
    if (!std::getline(in, name)) return std::nullopt;
  }
  if (!read_count(in, "samples", count) || !count_fits(count)) return std::nullopt;
  dataset.samples.resize(count);
  for (auto& sample : dataset.samples) {
    std::string relative;
    if (!std::getline(in, line) || !split_number(line, sample.label, relative)) return std::nullopt;
    if (sample.label < 0 || sample.label >= static_cast<int64_t>(dataset.classes.size()) || !inside_root(relative)) return std::nullopt;
    sample.path = root / relative;
  }
  return dataset;
}

ImageDataset load_image_folder(const fs::path& root, const fs::path& cache_dir) {
  const fs::path cache_file = index_cache_path(root, cache_dir);
  if (auto cached = read_index_cache(cache_file, root)) {
    spdlog::debug("{}: index reused from {} ({} images)", root.string(), cache_file.string(), cached->samples.size());
    return std::move(*cached);
  }
  Scan scan = scan_with_stamps(root);
  write_index_cache(cache_file, normalized_root(root), scan);
  spdlog::info("{}: indexed {} images in {} classes (cache {})", root.string(), scan.dataset.samples.size(),
               scan.dataset.classes.size(), cache_file.string());
  return std::move(scan.dataset);
}

ImageDataset read_file_list(const fs::path& list_file, const fs::path& base_dir) {
  std::istringstream in(read_file_text(list_file));
  const fs::path base = base_dir.empty() ? list_file.parent_path() : base_dir;
  ImageDataset dataset;
  int64_t max_label = -1;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = list_file.string() + ":" + std::to_string(number);
    const size_t end = line.find_last_not_of(" \t");
    const size_t split = line.find_last_of(" \t", end);
    const size_t path_end = split == std::string::npos ? std::string::npos : line.find_last_not_of(" \t", split);
    if (path_end == std::string::npos) throw Error(where + ": expected '<path> <label>', got '" + line + "'");
    const std::string label_text = line.substr(split + 1, end - split);
    int64_t label = -1;
    try {
      size_t used = 0;
      label = std::stoll(label_text, &used);
      if (used != label_text.size()) throw std::invalid_argument(label_text);
    } catch (const std::exception&) {
      throw Error(where + ": label '" + label_text + "' is not an integer");
    }
    if (label < 0) throw Error(where + ": negative label " + label_text);
    const fs::path path = line.substr(0, path_end + 1);
    dataset.samples.push_back({path.is_absolute() ? path : base / path, label});
    max_label = std::max(max_label, label);
  }
  if (dataset.samples.empty()) throw Error(list_file.string() + ": file list holds no samples");
  for (int64_t label = 0; label <= max_label; ++label) dataset.classes.push_back(std::to_string(label));
  return dataset;
}

}  // namespace tervit::data
