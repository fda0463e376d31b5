#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tervit {

// A whole regular file's bytes; throws tervit::Error naming `path` and the reason (cannot open, not a
// regular file, cannot read) otherwise.
// Anything else (a FIFO, a device, a socket) is refused before it could block: opening a FIFO waits for a
// writer that may never come.
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);
// The same as text (configs, class-name files, file lists, trainer state).
std::string read_file_text(const std::filesystem::path& path);

}  // namespace tervit
