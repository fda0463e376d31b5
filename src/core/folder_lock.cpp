#include "tervit/core/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "tervit/core/error.h"

namespace tervit {

FolderLock::FolderLock(const std::filesystem::path& folder) {
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (error) throw Error(folder.string() + ": cannot create folder: " + error.message());
  const auto path = folder / ".lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd_ < 0) throw Error(path.string() + ": cannot create lock file: " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char holder[32] = {};
    const ssize_t n = ::pread(fd_, holder, sizeof(holder) - 1, 0);
    ::close(fd_);
    if (err == EWOULDBLOCK)
      throw Error(folder.string() + ": in use by another process (pid " + std::string(holder, n > 0 ? static_cast<size_t>(n) : 0) +
                  ", which holds " + path.string() + "); wait for it to finish, or choose another folder");
    throw Error(path.string() + ": cannot lock: " + std::strerror(err));
  }
  // The holder's pid, for the message a second process gets.
  const auto pid = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The lock holds without the pid; only the message would lack it.
  }
}

FolderLock::~FolderLock() { ::close(fd_); }  // closing releases the lock

}  // namespace tervit
