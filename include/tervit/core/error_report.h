#pragma once
// The exit-code contract applied to an exception: one classification for every executable, LibTorch-free
// ones included, so that bad input exits 2 everywhere and no exception escapes main.
#include <string>

namespace tervit {

enum class ErrorKind {
  kBadInput,     // tervit::Error, or a path the file system refuses (too long, no permission): exit 2
  kOutOfMemory,  // std::bad_alloc: exit 1
  kInternal,     // anything else: exit 1
};

struct ErrorReport {
  ErrorKind kind;
  std::string message;  // abbreviated: outside input echoed in it may be megabytes long
  int exit_code() const;
};

// Classifies the exception being handled: call it inside a catch block.
ErrorReport report_current_exception();

}  // namespace tervit
