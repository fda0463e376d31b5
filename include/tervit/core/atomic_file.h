#pragma once
// Files that are either entirely there or not at all: written to a temporary name in the same folder,
// fsynced, then renamed over the target. A crash or a failed write (disk full, permissions) leaves any
// previous file intact. Checkpoints and weights are written this way.
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace tervit {

struct ByteChunk {
  const void* data;
  size_t size;
};

// Writes the chunks one after another as `path`. Throws tervit::Error naming `path` and the OS error.
void write_file_atomically(const std::filesystem::path& path, const std::vector<ByteChunk>& chunks);
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

// Makes renames and creations inside `folder` durable. Best effort: some filesystems cannot fsync a
// folder, and what was renamed is already in place, so a failure is no reason to fail the write.
void sync_directory(const std::filesystem::path& folder);

}  // namespace tervit
