#include "tervit/engine/metrics_log.h"

#include "tervit/core/error.h"

namespace tervit::engine {

namespace fs = std::filesystem;

MetricsLog::MetricsLog(const fs::path& path, int64_t keep_bytes) : path_(path), bytes_(keep_bytes) {
  std::error_code error;
  const bool exists = fs::exists(path, error);
  if (keep_bytes > 0) {
    if (!exists || static_cast<int64_t>(fs::file_size(path)) < keep_bytes)
      throw Error(path.string() + ": metrics log is shorter than the checkpoint recorded (" + std::to_string(keep_bytes) + " bytes)");
    fs::resize_file(path, static_cast<uintmax_t>(keep_bytes));
  } else if (exists) {
    fs::resize_file(path, 0);
  }
  file_.open(path, std::ios::app | std::ios::binary);
  if (!file_) throw Error(path.string() + ": cannot open the metrics log");
}

void MetricsLog::write(const nlohmann::ordered_json& line) {
  const auto text = line.dump() + "\n";
  if (!(file_ << text) || !file_.flush()) throw Error(path_.string() + ": cannot write the metrics log");
  bytes_ += static_cast<int64_t>(text.size());
}

}  // namespace tervit::engine
