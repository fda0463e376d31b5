// tervit-run: a packed model on the LibTorch-free runtime (include/tervit/runtime). It loads and checks the
// file, runs it on synthetic images and prints images/s and the process's peak resident memory, which is
// the runtime's whole footprint: the binary never loads LibTorch.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "tervit/core/error.h"
#include "tervit/core/peak_memory.h"
#include "tervit/runtime/model.h"

namespace {

struct RunOptions {
  std::string packed;
  std::string mode = "int8";
  int threads = 1;
  int64_t batch = 1;
  double seconds = 2.0;
};

double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int run(const RunOptions& options) {
  using namespace tervit;
  const double rss_before = peak_rss_megabytes();
  runtime::set_threads(options.threads);
  const auto load_start = std::chrono::steady_clock::now();
  const auto model = runtime::load_model(options.packed, deploy::parse_packed_mode(options.mode));
  const double load_seconds = since(load_start);
  const double rss_loaded = peak_rss_megabytes();
  const auto& a = model.architecture;
  std::printf("%s: %s, %d classes, %lld packed layers (%s-bit file), mode %s, %d thread(s); loaded in %.3f s\n", options.packed.c_str(),
              a.family.c_str(), static_cast<int>(a.num_classes), static_cast<long long>(model.packed_layers),
              deploy::packed_bits_name(model.bits).c_str(), options.mode.c_str(), options.threads, load_seconds);

  // Normalized images are roughly standard normal.
  std::vector<float> images(static_cast<size_t>(options.batch * a.in_chans * a.img_size * a.img_size));
  std::mt19937 generator(0);
  std::normal_distribution<float> normal;
  for (float& v : images) v = normal(generator);
  model.forward(images.data(), options.batch);  // warm-up
  int calls = 0;
  const auto start = std::chrono::steady_clock::now();
  while (calls == 0 || since(start) < options.seconds) {
    model.forward(images.data(), options.batch);
    ++calls;
  }
  const double elapsed = since(start);
  std::printf("batch %lld: %.2f images/s (%.2f ms per batch, %d batches)\n", static_cast<long long>(options.batch),
              calls * options.batch / elapsed, 1e3 * elapsed / calls, calls);
  std::printf("peak RSS %.1f MB before loading, %.1f MB after loading, %.1f MB after running\n", rss_before, rss_loaded,
              peak_rss_megabytes());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tervit-run: run a packed ternary model on tervit's LibTorch-free runtime (synthetic images; speed and memory)"};
  RunOptions options;
  app.add_option("--packed", options.packed, "packed model file (tervit-export)")->required()->check(CLI::ExistingFile);
  app.add_option("--mode", options.mode, "int8 (W2A8) or exact (float activations)")->capture_default_str();
  app.add_option("--threads", options.threads, "OpenMP threads")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch", options.batch, "images per forward call")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seconds", options.seconds, "timed seconds after one warm-up call")->capture_default_str()->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    return run(options);
  } catch (const tervit::Error& e) {
    std::fprintf(stderr, "tervit-run: error: %s\n", e.what());
    return 2;
  }
}
