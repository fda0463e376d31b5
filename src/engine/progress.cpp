#include "tervit/engine/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

namespace tervit::engine {

namespace {

std::string duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char text[32];
  std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return text;
}

}  // namespace

Progress::Progress(ProgressStyle style, int64_t line_every)
    : bar_(style == ProgressStyle::kBar || (style == ProgressStyle::kAuto && ::isatty(STDERR_FILENO))),
      line_every_(line_every) {}

void Progress::update(const std::string& label, int64_t step, int64_t total, double loss, double lr,
                      double images_per_second) {
  const auto now = std::chrono::steady_clock::now();
  if (step == 1) epoch_start_ = now;
  const double elapsed = std::chrono::duration<double>(now - epoch_start_).count();
  const double eta = step > 1 ? elapsed / static_cast<double>(step - 1) * static_cast<double>(total - step) : 0;
  if (bar_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * step / std::max<int64_t>(total, 1));
    std::fprintf(stderr, "\r%s [%s%s] %lld/%lld eta %s  %.0f img/s  loss %.4f  lr %.3g ", label.c_str(),
                 std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
                 static_cast<long long>(step), static_cast<long long>(total), duration(eta).c_str(), images_per_second,
                 loss, lr);
    std::fflush(stderr);
    open_line_ = true;
    if (step == total) finish();
  } else if (step % line_every_ == 0 || step == total) {
    spdlog::info("{} {}/{} eta {} {:.0f} img/s loss {:.4f} lr {:.3g}", label, step, total, duration(eta),
                 images_per_second, loss, lr);
  }
}

void Progress::finish() {
  if (!open_line_) return;
  std::fputc('\n', stderr);
  open_line_ = false;
}

}  // namespace tervit::engine
