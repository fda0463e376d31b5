#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

namespace tervit {

// A whole regular file's bytes; throws tervit::Error naming `path` and the reason (cannot open, not a
// regular file, cannot read) otherwise.
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);

}  // namespace tervit
