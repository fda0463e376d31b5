#include "tervit/core/file_bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "tervit/core/error.h"

namespace tervit {

namespace {

// `what` is a plain string so that nothing allocates (and maybe sets errno) before `err` is read.
[[noreturn]] void fail_io(const std::filesystem::path& path, const char* what, int err) {
  throw Error(path.string() + ": " + what + ": " + std::strerror(err));
}

// Closes a descriptor on every way out of a scope.
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path) {
  // Non-blocking, so that opening a FIFO returns at once; the check below then refuses it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail_io(path, "cannot open", errno);
  const FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail_io(path, "cannot stat", errno);
  if (S_ISDIR(st.st_mode)) throw Error(path.string() + ": not a regular file (a folder)");
  if (!S_ISREG(st.st_mode)) throw Error(path.string() + ": not a regular file (a FIFO, device or socket), refused");
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_io(path, "cannot read", errno);
    if (n == 0) break;  // the file shrank while we read: the parsers see what there is
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

std::string read_file_text(const std::filesystem::path& path) {
  const auto bytes = read_file_bytes(path);
  return {bytes.begin(), bytes.end()};
}

}  // namespace tervit
