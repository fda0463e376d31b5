#include "tervit/data/check.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>

#include "tervit/core/error.h"
#include "tervit/data/image_decode.h"

namespace tervit::data {

std::vector<BadFile> find_bad_files(const std::vector<Sample>& samples, int threads) {
  if (threads < 1) throw Error("check: threads must be >= 1, got " + std::to_string(threads));
  // One slot per sample: threads write disjoint slots, so only the work counter is shared.
  std::vector<std::optional<std::string>> failures(samples.size());
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i = next++; i < samples.size(); i = next++) {
      try {
        read_image(samples[i].path);
      } catch (const std::exception& e) {  // whatever a file does to a decoder (out of memory too), never a worker's exit
        failures[i] = e.what();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::min<int>(threads, static_cast<int>(samples.size())); ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  std::vector<BadFile> bad;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (failures[i]) bad.push_back({samples[i].path, *failures[i]});
  }
  return bad;
}

}  // namespace tervit::data
