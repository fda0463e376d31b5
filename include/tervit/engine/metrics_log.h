#pragma once
// metrics.jsonl in the run folder: one JSON object per line, per N steps and per epoch. Each line is
// flushed as written. On resume the file is cut back to the length the checkpoint recorded, so the
// log holds exactly the lines of the run that the resumed run continues.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>

namespace tervit::engine {

class MetricsLog {
 public:
  // Opens `path` for appending after cutting it to `keep_bytes` (0: a new, empty log).
  MetricsLog(const std::filesystem::path& path, int64_t keep_bytes);
  void write(const nlohmann::ordered_json& line);
  int64_t bytes() const { return bytes_; }

 private:
  std::filesystem::path path_;
  std::ofstream file_;
  int64_t bytes_ = 0;
};

}  // namespace tervit::engine
