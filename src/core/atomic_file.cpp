#include "tervit/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "tervit/core/error.h"

namespace tervit {

namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail_io(const fs::path& path, const char* what, int err) {
  throw Error(path.string() + ": " + what + ": " + std::strerror(err));
}

// Closes the descriptor (if still open) and removes the temporary file unless it was renamed into place.
struct TempFile {
  fs::path path;
  int fd = -1;
  bool renamed = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!renamed) ::unlink(path.c_str());
  }
};

int create_exclusive(const fs::path& dir, const fs::path& target, fs::path& temp) {
  static std::atomic<unsigned> counter{0};
  for (;;) {
    temp = dir /
           ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++));
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
}

}  // namespace

void sync_directory(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void write_file_atomically(const fs::path& path, const std::vector<ByteChunk>& chunks) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  fs::path temp_path;
  const int temp_fd = create_exclusive(dir, path, temp_path);
  if (temp_fd < 0) fail_io(path, "cannot create a temporary file beside it", errno);
  TempFile temp{temp_path, temp_fd};
  for (const ByteChunk& chunk : chunks) {
    const auto* p = static_cast<const char*>(chunk.data);
    size_t left = chunk.size;
    while (left > 0) {
      const ssize_t n = ::write(temp.fd, p, std::min<size_t>(left, size_t{1} << 30));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_io(path, "write failed", errno);
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  if (::fsync(temp.fd) != 0) fail_io(path, "fsync failed", errno);
  const int fd = temp.fd;
  temp.fd = -1;
  if (::close(fd) != 0) fail_io(path, "close failed", errno);
  if (::rename(temp.path.c_str(), path.c_str()) != 0) fail_io(path, "cannot rename the temporary file over it", errno);
  temp.renamed = true;
  sync_directory(dir);
}

void write_file_atomically(const fs::path& path, const std::string& text) {
  write_file_atomically(path, {{text.data(), text.size()}});
}

}  // namespace tervit
