#pragma once
// Training progress on the console: a bar redrawn in place (ETA, img/s, loss, lr) when stderr is a
// terminal, plain log lines every N steps otherwise (batch logs, files, CI).
#include <chrono>
#include <cstdint>
#include <string>

namespace tervit::engine {

enum class ProgressStyle { kAuto, kBar, kLines };

class Progress {
 public:
  Progress(ProgressStyle style, int64_t line_every);
  // Called after each step; `step` counts from 1 up to `total` within the epoch.
  void update(const std::string& label, int64_t step, int64_t total, double loss, double lr, double images_per_second);
  // Ends a bar line before other output.
  void finish();

 private:
  bool bar_;
  int64_t line_every_;
  bool open_line_ = false;
  std::chrono::steady_clock::time_point epoch_start_;
};

}  // namespace tervit::engine
