// Eval-mode forward throughput (images/s) of named models for each batch size and thread count.
//   build/bench_forward --models deit_small_patch16_224,swin_small_patch4_window7_224 --batch 1,32 --threads 1,2
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>

#include "models/registry.h"
#include "tervit/libtorch/app.h"
#include "tervit/libtorch/process.h"
#include "tervit/core/thread_budget.h"

namespace {

// Runs forward until at least `min_seconds` and `min_iterations` have passed; returns images/s.
double images_per_second(tervit::models::VisionModelImpl& model, int64_t batch, double min_seconds, int min_iterations) {
  torch::NoGradGuard no_grad;
  const auto images = torch::randn({batch, model.in_chans(), model.img_size(), model.img_size()});
  model.forward(images);  // warm-up: allocations, OpenMP pool
  int iterations = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (iterations < min_iterations || elapsed < min_seconds) {
    tervit::adapt_threads();  // as tervit-eval does each batch
    model.forward(images);
    ++iterations;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return batch * iterations / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_forward: eval-mode forward throughput of tervit models"};
  std::vector<std::string> names{"deit_small_patch16_224", "swin_small_patch4_window7_224"};
  std::vector<int64_t> batches{1, 32};
  std::vector<int> threads{1, 2};
  double min_seconds = 3.0;
  int min_iterations = 2;
  app.add_option("--models", names, "model names")->delimiter(',')->capture_default_str();
  app.add_option("--batch", batches, "batch sizes")->delimiter(',')->capture_default_str();
  app.add_option("--threads", threads, "thread counts")->delimiter(',')->capture_default_str();
  app.add_option("--seconds", min_seconds, "minimum measured time per case")->capture_default_str();
  app.add_option("--iterations", min_iterations, "minimum forward passes per case")->capture_default_str();
  return tervit::run_app(app, argc, argv, [&] {
    tervit::log_process_report("bench_forward", torch::kCPU);
    std::printf("%-32s %6s %8s %12s\n", "model", "batch", "threads", "images/s");
    for (const auto& name : names) {
      auto model = tervit::models::create_model(name);
      model->eval();
      for (const int t : threads) {
        tervit::set_threads(t);
        for (const auto batch : batches)
          std::printf("%-32s %6ld %8d %12.2f\n", name.c_str(), static_cast<long>(batch), t,
                      images_per_second(*model, batch, min_seconds, min_iterations));
        std::fflush(stdout);
      }
    }
    return tervit::kExitOk;
  });
}
