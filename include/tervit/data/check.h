#pragma once
// Finding the files a training run would skip: every sample is read and decoded as the loader does.
#include <filesystem>
#include <string>
#include <vector>

#include "tervit/data/image_folder.h"

namespace tervit::data {

struct BadFile {
  std::filesystem::path path;
  std::string reason;  // the decoder's message, naming the file
};

// Decodes every sample on `threads` threads (>= 1) and returns those that fail, in sample order.
std::vector<BadFile> find_bad_files(const std::vector<Sample>& samples, int threads = 2);

}  // namespace tervit::data
