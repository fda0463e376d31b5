#include "tervit/core/peak_memory.h"

#include <fstream>
#include <string>

namespace tervit {

double peak_rss_megabytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      double kilobytes = 0;
      status >> kilobytes;
      return kilobytes * 1024 / 1e6;
    }
    status.ignore(1 << 12, '\n');
  }
  return 0;
}

}  // namespace tervit
