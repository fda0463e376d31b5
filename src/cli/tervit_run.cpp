// tervit-run: a packed model on the LibTorch-free runtime (include/tervit/runtime). It loads and checks the
// file, then either classifies images (one JSON line each, as tervit-eval prints them) or runs synthetic
// images and prints images/s. Either way it reports the process's peak resident memory, which is the
// runtime's whole footprint: the binary never loads LibTorch, nor OpenCV's codecs.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "tervit/core/command_line.h"
#include "tervit/core/cpu_environment.h"
#include "tervit/core/error.h"
#include "tervit/core/error_report.h"
#include "tervit/core/exit_codes.h"
#include "tervit/core/json_text.h"
#include "tervit/core/peak_memory.h"
#include "tervit/core/thread_budget.h"
#include "tervit/image/direct_decode.h"
#include "tervit/image/eval_crop.h"
#include "tervit/image/normalize_planes.h"
#include "tervit/image/preprocess_metadata.h"
#include "tervit/kernels/ternary_kernels.h"
#include "tervit/runtime/prediction.h"
#include "tervit/runtime/model.h"

namespace {

struct RunOptions {
  std::string packed;
  std::string mode = "int8";
  std::string attention = "float";
  int threads = 1;
  std::vector<std::string> images;
  int64_t topk = 5;
  int64_t batch = 1;
  double seconds = 2.0;
};

double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One JSON line per image on stdout; an image that cannot be read is an error on stderr naming it, and the
// others still run.
int classify(const tervit::runtime::Model& model, const tervit::image::EvalTransformOptions& transform, const RunOptions& options) {
  using namespace tervit;
  const auto& a = model.architecture;
  image::check_takes_rgb(a.in_chans, options.packed);
  std::vector<float> image(static_cast<size_t>(a.in_chans * a.img_size * a.img_size));
  int failed = 0;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& path : options.images) {
    try {
      const auto crop = image::eval_resize_crop(image::read_image_directly(path), transform);
      image::normalize_planes(crop, image::Normalization{transform.mean, transform.std}, false, image.data());
      const auto logits = model.forward(image.data(), 1);
      std::cout << json_text(runtime::prediction_json(path, runtime::prediction_from_logits(logits.data(), a.num_classes, options.topk),
                                                      model.class_names))
                << "\n";
    } catch (const std::exception& e) {  // tervit's, OpenCV's or memory for this image: the others still run
      std::fprintf(stderr, "tervit-run: error: %s\n", naming(path, e.what()).c_str());
      ++failed;
    }
  }
  std::cout.flush();
  std::fprintf(stderr, "%zu images (%d unreadable) in %.3f s; peak RSS %.1f MB\n", options.images.size(), failed, since(start),
               peak_rss_megabytes());
  return failed > 0 ? kExitPartial : kExitOk;
}

// A batch whose images alone exceed the machine's memory is refused with the numbers, before allocating.
void check_batch_fits(int64_t batch, const tervit::runtime::Architecture& a) {
  const double bytes = static_cast<double>(batch) * a.in_chans * a.img_size * a.img_size * sizeof(float);
  const double memory = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  if (bytes > memory) {
    char message[256];
    std::snprintf(message, sizeof(message), "--batch %lld: %lld images of %lldx%lldx%lld floats take %.1f GB, more than this machine's %.1f GB",
                  static_cast<long long>(batch), static_cast<long long>(batch), static_cast<long long>(a.in_chans),
                  static_cast<long long>(a.img_size), static_cast<long long>(a.img_size), bytes / 1e9, memory / 1e9);
    throw tervit::Error(message);
  }
}

int benchmark(const tervit::runtime::Model& model, const RunOptions& options) {
  using namespace tervit;
  const auto& a = model.architecture;
  check_batch_fits(options.batch, a);
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
  return kExitOk;
}

int run(const RunOptions& options) {
  using namespace tervit;
  const double rss_before = peak_rss_megabytes();
  runtime::set_threads(options.threads);
  const auto load_start = std::chrono::steady_clock::now();
  auto file = runtime::WeightFile::read(options.packed);
  // The training run's eval preprocessing when the file records it, else timm's defaults for the family.
  image::EvalTransformOptions transform;
  const auto preprocess = image::read_preprocess(file.metadata(), file.source());
  const auto attention = kernels::attention_precision_names().parse(options.attention, "--attention");
  if (attention == kernels::AttentionPrecision::kInt8 && !kernels::cpu_has_avx512_vnni())
    std::fprintf(stderr, "tervit-run: warning: this CPU has no AVX-512 VNNI, so int8 attention runs its plain reference kernel: "
                         "--attention float is faster here\n");
  const auto model = runtime::load_model(std::move(file), kernels::packed_mode_names().parse(options.mode, "--mode"), attention);
  const double load_seconds = since(load_start);
  const double rss_loaded = peak_rss_megabytes();
  const auto& a = model.architecture;
  transform.img_size = static_cast<int>(a.img_size);
  transform.crop_pct = image::default_crop_pct(a.family);
  transform = image::with_preprocess(transform, preprocess);
  std::fprintf(stderr, "%s: %s, %d classes, %lld packed layers (%s-bit file), mode %s, %s attention, %d thread(s); loaded in %.3f s\n",
               options.packed.c_str(), a.family.c_str(), static_cast<int>(a.num_classes),
               static_cast<long long>(model.packed_layers), kernels::packed_bits_names().name(model.bits).c_str(), options.mode.c_str(),
               options.attention.c_str(), options.threads, load_seconds);
  const int status = options.images.empty() ? benchmark(model, options) : classify(model, transform, options);
  std::fprintf(stderr, "peak RSS %.1f MB before loading, %.1f MB after loading, %.1f MB at the end\n", rss_before, rss_loaded,
               peak_rss_megabytes());
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  tervit::prepare_cpu_environment(argv);
  for (const auto& note : tervit::cpu_environment_notes()) std::fprintf(stderr, "tervit-run: %s\n", note.c_str());
  CLI::App app{"tervit-run: run a packed ternary model on tervit's LibTorch-free runtime: classify images, or measure speed "
               "and memory on synthetic ones"};
  RunOptions options;
  app.add_option("--packed", options.packed, "packed model file (tervit-export)")->required()->check(CLI::ExistingFile);
  app.add_option("--images", options.images, "JPEG or PNG images to classify (one JSON line each); none: the benchmark");
  app.add_option("--topk", options.topk, "classes per image")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--mode", options.mode, "int8 (W2A8) or exact (float activations)")->capture_default_str();
  app.add_option("--attention", options.attention,
                 "float, as tervit-eval --packed, or int8: attention's products in integers too (faster with AVX-512 VNNI)")
      ->capture_default_str();
  app.add_option("--threads", options.threads, "OpenMP threads")->capture_default_str()->check(CLI::Range(1, tervit::kMaxThreads));
  app.add_option("--batch", options.batch, "benchmark: images per forward call")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seconds", options.seconds, "benchmark: timed seconds after one warm-up call")
      ->capture_default_str()
      ->check(tervit::finite_in(0, 86400));
  if (const auto code = tervit::parse_command_line(app, argc, argv)) return *code;
  try {
    return run(options);
  } catch (...) {
    const auto report = tervit::report_current_exception();
    switch (report.kind) {
      case tervit::ErrorKind::kBadInput: std::fprintf(stderr, "tervit-run: error: %s\n", report.message.c_str()); break;
      case tervit::ErrorKind::kOutOfMemory:
        std::fprintf(stderr, "tervit-run: error: out of memory (peak RSS %.1f MB): use a smaller --batch or model\n",
                     tervit::peak_rss_megabytes());
        break;
      case tervit::ErrorKind::kInternal: std::fprintf(stderr, "tervit-run: internal error: %s\n", report.message.c_str()); break;
    }
    return report.exit_code();
  }
}
