#pragma once
// An exclusive lock on a folder shared by processes that write into it (a training run's folder): an
// advisory flock on `<folder>/.lock`, held for the object's life and released by the kernel when the
// process dies, so that a killed run never leaves a stale lock behind.
#include <filesystem>

namespace tervit {

class FolderLock {
 public:
  // Creates the folder when missing. Throws tervit::Error naming the folder when another process holds
  // the lock, or when the lock file cannot be made.
  explicit FolderLock(const std::filesystem::path& folder);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_;
};

}  // namespace tervit
