// Packed ternary inference against LibTorch fp32 on the same CPU and threads.
//   build/bench_packed gemm --models deit_small_patch16_224,swin_small_patch4_window7_224 --threads 1,2
//     every distinct matrix product of the models at batch 1 (tokens x in x out): fp32 torch::linear,
//     packed exact and packed int8, in ms per call; the int8 path's multiply-adds per second as a share of
//     this CPU's vpdpbusd peak (measured first, alone and with vpmaddubsw beside it), per shape and over
//     each model's products
//   build/bench_packed attention [--seconds 1]
//     one head of the runtime's attention at the models' shapes (deit_small: 197 tokens x 64; a Swin window
//     with its bias and mask: 49 x 32), each kernel (float: reference, AVX2, AVX-512; int8: reference,
//     AVX-512 VNNI), in µs per call and GFLOP/s (4·n²·d, the float products' operations, for int8 too)
//   build/bench_packed pack --model NAME --out FILE [--bits 2]
//     a packed file of the model with random-init weights, every matrix ternary
//   build/bench_packed model --mode fp|exact|int8 --model NAME [--packed FILE] --batch 1,32 --threads 1,2
//     whole-model images/s, then the process's peak resident memory (VmHWM): run one mode per process
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <tuple>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "models/apply_quant_spec.h"
#include "models/registry.h"
#include "tervit/libtorch/app.h"
#include "tervit/core/error.h"
#include "tervit/core/peak_memory.h"
#include "tervit/libtorch/process.h"
#include "tervit/core/thread_budget.h"
#include "tervit/deploy/packed_model.h"
#include "src/kernels/float_kernels.h"
#include "src/kernels/int8_attention_kernels.h"
#include "tervit/kernels/ternary_kernels.h"
#include "tervit/quant/quant_layers.h"

namespace {

using namespace tervit;
using Shape = std::tuple<int64_t, int64_t, int64_t>;  // tokens, in, out

// Seconds per call of each body after a warm-up: the fastest of `rounds` rounds, where a round runs each
// body in turn until `min_seconds` / rounds and `min_iterations` have passed. The rounds of the bodies
// being compared alternate, and the fastest round is the one least disturbed by whatever else this shared
// machine runs, so a burst of other work cannot favour one side.
std::vector<double> seconds_per_call(const std::vector<std::function<void()>>& bodies, double min_seconds, int min_iterations,
                                     int rounds) {
  std::vector<double> best(bodies.size(), std::numeric_limits<double>::infinity());
  for (const auto& body : bodies) body();
  for (int round = 0; round < rounds; ++round) {
    for (size_t b = 0; b < bodies.size(); ++b) {
      int iterations = 0;
      const auto start = std::chrono::steady_clock::now();
      double elapsed = 0;
      while (iterations < min_iterations || elapsed < min_seconds / rounds) {
        bodies[b]();
        ++iterations;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
      best[b] = std::min(best[b], elapsed / iterations);
    }
  }
  return best;
}

// A matrix product stand-in that records the shapes it is called with, computing nothing useful.
class ShapeRecorder : public quant::MatrixKernel {
 public:
  ShapeRecorder(int64_t in, int64_t out, std::map<Shape, int>& shapes) : in_(in), out_(out), shapes_(shapes) {}
  torch::Tensor forward(const torch::Tensor& tokens) const override {
    ++shapes_[{tokens.numel() / in_, in_, out_}];
    auto shape = tokens.sizes().vec();
    shape.back() = out_;
    return torch::zeros(shape);
  }

 private:
  int64_t in_, out_;
  std::map<Shape, int>& shapes_;
};

// Every distinct (tokens, in, out) of the model's matrix products at batch 1, with how often it occurs.
std::map<Shape, int> matrix_shapes(const std::string& name) {
  std::map<Shape, int> shapes;
  auto model = models::create_model(name);
  model->eval();
  for (const auto& [layer_name, layer] : quant::quantizable_layers(*model)) {
    const auto& weight = layer->latent_weight();
    layer->set_kernel(std::make_shared<ShapeRecorder>(weight.numel() / weight.size(0), weight.size(0), shapes));
  }
  torch::NoGradGuard no_grad;
  model->forward(torch::zeros({1, model->in_chans(), model->img_size(), model->img_size()}));
  return shapes;
}

kernels::PackedTernaryMatrix random_matrix(int64_t rows, int64_t cols) {
  const auto trits = torch::randint(-1, 2, {rows, cols}, torch::kInt8);
  auto matrix = kernels::pack_matrix(trits.data_ptr<int8_t>(), rows, cols);
  matrix.alpha.assign(rows, 0.01f);
  matrix.bias.assign(rows, 0.0f);
  return matrix;
}

#if defined(__x86_64__)
// 64 u8 x s8 multiply-adds per vpdpbusd; twelve independent chains cover its latency. kMixed makes four of
// them vpmaddubsw (64 u8 x s8 products into 32 int16 pair sums), each fed its own last result: whether the
// CPU multiplies bytes anywhere vpdpbusd does not (faster than the twelve vpdpbusd would mean a second
// multiplier that the int8 kernels leave idle). One asm block: with intrinsics, GCC 12 copied every chain to
// another register and back on each step, and with an asm per chain it kept the chains in memory.
template <bool kMixed>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) int64_t byte_multiply_adds(int64_t steps) {
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-1);
  __m512i c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
#define TERVIT_DOT(c) "vpdpbusd %[b], %[a], %[" #c "]\n\t"
#define TERVIT_PAIRS(c) "vpmaddubsw %[b], %[" #c "], %[" #c "]\n\t"
#define TERVIT_CHAINS                                                                                                          \
  : [c0] "+v"(c0), [c1] "+v"(c1), [c2] "+v"(c2), [c3] "+v"(c3), [c4] "+v"(c4), [c5] "+v"(c5), [c6] "+v"(c6), [c7] "+v"(c7), \
    [c8] "+v"(c8), [c9] "+v"(c9), [c10] "+v"(c10), [c11] "+v"(c11)                                                           \
  : [a] "v"(a), [b] "v"(b)
  for (int64_t i = 0; i < steps; ++i) {
    if constexpr (kMixed)
      asm(TERVIT_DOT(c0) TERVIT_DOT(c1) TERVIT_PAIRS(c2) TERVIT_DOT(c3) TERVIT_DOT(c4) TERVIT_PAIRS(c5) TERVIT_DOT(c6) TERVIT_DOT(c7)
              TERVIT_PAIRS(c8) TERVIT_DOT(c9) TERVIT_DOT(c10) TERVIT_PAIRS(c11) TERVIT_CHAINS);
    else
      asm(TERVIT_DOT(c0) TERVIT_DOT(c1) TERVIT_DOT(c2) TERVIT_DOT(c3) TERVIT_DOT(c4) TERVIT_DOT(c5) TERVIT_DOT(c6) TERVIT_DOT(c7)
              TERVIT_DOT(c8) TERVIT_DOT(c9) TERVIT_DOT(c10) TERVIT_DOT(c11) TERVIT_CHAINS);
  }
#undef TERVIT_CHAINS
#undef TERVIT_PAIRS
#undef TERVIT_DOT
  // The sums are used, so that the loop is not dropped: lane 0 of chain 0 (vpdpbusd in both forms) holds
  // 0x03030303 - 12 · steps modulo 2^32, which is not 0 for the steps byte_multiply_rate takes.
  return _mm512_cvtsi512_si32(c0) == 0 ? 0 : 12 * 64 * steps;
}
#endif

// This CPU's multiply-adds per second of byte_multiply_adds<kMixed> (without kMixed: vpdpbusd's peak) on
// `threads` threads together (the fastest of 5 rounds of about 0.07 s: in rounds of a few milliseconds,
// waking the second thread cost up to half), or 0 where it has no AVX-512 VNNI.
template <bool kMixed>
double byte_multiply_rate(int threads) {
#if defined(__x86_64__)
  if (!kernels::cpu_has_avx512_vnni()) return 0;
  constexpr int64_t kSteps = 20'000'000;
  double best = 0;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
    int64_t total = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : total)
#endif
    total += byte_multiply_adds<kMixed>(kSteps);
    best = std::max(best, total / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
#else
  return 0;
#endif
}

// A matrix product takes well under a millisecond: several rounds cost little and steady the figures.
constexpr int kGemmRounds = 5;

int bench_gemm(const std::vector<std::string>& names, const std::vector<int>& threads, double min_seconds) {
  // "int8 ms" runs the layer (the best int8 kernel); "avx2 ms" the AVX2 int8 kernel alone on the same
  // quantized tokens, for CPUs where AVX-512 VNNI is the best.
  std::map<int, double> peak;
  for (const int t : threads) {
    peak[t] = byte_multiply_rate</*kMixed=*/false>(t);
    const double mixed = byte_multiply_rate</*kMixed=*/true>(t);
    std::printf("vpdpbusd peak, %d thread(s): %.1f G multiply-adds/s; with vpmaddubsw in a third of the chains %.1f (%.0f%%)\n", t,
                peak[t] / 1e9, mixed / 1e9, peak[t] > 0 ? 100 * mixed / peak[t] : 0.0);
  }
  std::printf("%-30s %6s %6s %6s %5s %8s | %10s %10s %10s %10s | %7s %7s | %6s\n", "model", "tokens", "in", "out", "count",
              "threads", "fp32 ms", "exact ms", "int8 ms", "avx2 ms", "exact x", "int8 x", "peak %");
  for (const auto& name : names) {
    std::map<int, double> model_seconds, model_multiply_adds;
    for (const auto& [shape, count] : matrix_shapes(name)) {
      const auto [tokens, in, out] = shape;
      const auto x = torch::randn({tokens, in});
      const auto weight = torch::randn({out, in}) * 0.01;
      const auto bias = torch::zeros({out});
      const deploy::PackedTernaryLinear exact(random_matrix(out, in), kernels::PackedMode::kExact);
      const deploy::PackedTernaryLinear int8(exact.matrix(), kernels::PackedMode::kInt8);
      for (const int t : threads) {
        set_threads(t);
        torch::NoGradGuard no_grad;
        const auto& matrix = exact.matrix();
        std::vector<float> y(static_cast<size_t>(tokens * out));
        const auto seconds = seconds_per_call(
            {[&] { torch::nn::functional::linear(x, weight, bias); }, [&] { exact.forward(x); }, [&] { int8.forward(x); },
             [&] {
               const auto q = kernels::quantize_tokens(x.data_ptr<float>(), tokens, in);
               at::parallel_for(0, out, 16, [&](int64_t begin, int64_t end) { kernels::int8_kernel_avx2(matrix, q, begin, end, y.data()); });
             }},
            min_seconds, 3, kGemmRounds);
        const double fp = seconds[0], ex = seconds[1], i8 = seconds[2], avx2 = seconds[3];
        const double multiply_adds = static_cast<double>(tokens) * in * out;
        model_seconds[t] += count * i8;
        model_multiply_adds[t] += count * multiply_adds;
        std::printf("%-30s %6ld %6ld %6ld %5d %8d | %10.3f %10.3f %10.3f %10.3f | %7.2f %7.2f | %6.1f\n", name.c_str(), long(tokens),
                    long(in), long(out), count, t, fp * 1e3, ex * 1e3, i8 * 1e3, avx2 * 1e3, fp / ex, fp / i8,
                    peak[t] > 0 ? 100 * multiply_adds / i8 / peak[t] : 0.0);
        std::fflush(stdout);
      }
    }
    for (const int t : threads)
      std::printf("%s, %d thread(s): int8 products %.2f ms per image, %.1f G multiply-adds/s, %.1f%% of the vpdpbusd peak\n",
                  name.c_str(), t, model_seconds[t] * 1e3, model_multiply_adds[t] / model_seconds[t] / 1e9,
                  peak[t] > 0 ? 100 * model_multiply_adds[t] / model_seconds[t] / peak[t] : 0.0);
  }
  return kExitOk;
}

// The fastest of this many alternating rounds: one head takes microseconds, and this machine is shared.
constexpr int kAttentionRounds = 30;

int bench_attention(double min_seconds) {
  struct HeadShape {
    const char* name;
    int64_t tokens, head_dim;
    bool swin_masks;
  };
  std::vector<std::pair<const char*, void (*)(const kernels::AttentionHead&, float*, int64_t)>> kernels_here{
      {"reference", kernels::attention_head_reference}};
  if (kernels::cpu_has_avx2()) kernels_here.emplace_back("avx2", kernels::attention_head_avx2);
  if (kernels::cpu_has_avx512()) kernels_here.emplace_back("avx512", kernels::attention_head_avx512);
  kernels_here.emplace_back("int8 ref", kernels::int8_attention_head_reference);
  if (kernels::cpu_has_avx512_vnni()) kernels_here.emplace_back("int8 vnni", kernels::int8_attention_head_avx512_vnni);
  std::printf("%-24s %6s %8s | %-9s %10s %8s\n", "shape", "tokens", "head dim", "kernel", "us/call", "GFLOP/s");
  for (const HeadShape shape : {HeadShape{"deit_small head", 197, 64, false}, HeadShape{"swin window head", 49, 32, true}}) {
    // A qkv buffer of 6 heads, read in place as the runtime does.
    const int64_t stride = 3 * 6 * shape.head_dim;
    const auto qkv = torch::randn({shape.tokens, stride});
    const auto bias = torch::randn({shape.tokens, shape.tokens});
    const auto region = torch::randint(0, 4, {shape.tokens}, torch::kInt32);
    kernels::AttentionHead head{qkv.data_ptr<float>(), qkv.data_ptr<float>() + shape.head_dim,
                                qkv.data_ptr<float>() + 2 * shape.head_dim, stride, shape.tokens, shape.head_dim};
    if (shape.swin_masks) head.bias = bias.data_ptr<float>(), head.region = region.data_ptr<int>();
    std::vector<float> out(static_cast<size_t>(shape.tokens * stride));
    std::vector<std::function<void()>> bodies;
    for (const auto& [name, kernel] : kernels_here) bodies.emplace_back([&, kernel = kernel] { kernel(head, out.data(), stride); });
    const auto seconds = seconds_per_call(bodies, min_seconds, 3, kAttentionRounds);
    const double flops = 4.0 * shape.tokens * shape.tokens * shape.head_dim;  // two products of 2·n²·d
    for (size_t k = 0; k < kernels_here.size(); ++k)
      std::printf("%-24s %6ld %8ld | %-9s %10.2f %8.1f\n", shape.name, long(shape.tokens), long(shape.head_dim),
                  kernels_here[k].first, seconds[k] * 1e6, flops / seconds[k] / 1e9);
  }
  return kExitOk;
}

int bench_pack(const std::string& name, const std::string& out, const std::string& bits) {
  const auto architecture = models::model_architecture(name);
  auto model = models::create_model(architecture);
  const auto spec = quant::QuantSpec().weight_quant(quant::WeightQuant::kTernary);
  models::apply_quant_spec(*model, spec);
  deploy::PackOptions options;
  options.bits = kernels::packed_bits_names().parse(bits, "bits");
  const auto file = deploy::pack_model(*model, architecture, spec, options);
  write_safetensors(out, file.tensors, file.metadata);
  std::printf("%s: %s, %.3f MB\n", out.c_str(), name.c_str(), std::filesystem::file_size(out) / 1e6);
  return kExitOk;
}

int bench_model(const std::string& mode, const std::string& name, const std::string& packed, const std::vector<int64_t>& batches,
                const std::vector<int>& threads, double min_seconds) {
  const double rss_before = peak_rss_megabytes();  // LibTorch and the rest of the process, without a model
  models::VisionModel model;
  if (mode == "fp") {
    model = models::create_model(name);
    model->eval();
  } else {
    if (packed.empty()) throw Error("--mode " + mode + " needs --packed FILE (bench_packed pack writes one)");
    model = deploy::load_packed_model(packed, kernels::packed_mode_names().parse(mode, "packed mode")).model;
  }
  int64_t model_bytes = 0;
  for (const auto& parameter : model->parameters()) model_bytes += parameter.numel() * parameter.element_size();
  for (const auto& [layer_name, layer] : quant::quantizable_layers(*model))
    if (const auto* kernel = dynamic_cast<const deploy::PackedTernaryLinear*>(layer->kernel().get()))
      model_bytes += static_cast<int64_t>(kernel->matrix().total_blocks() * sizeof(kernels::Block2Bit) +
                                          (kernel->matrix().alpha.size() + kernel->matrix().bias.size()) * sizeof(float));
  std::printf("%-30s %-6s model tensors %.2f MB, peak RSS %.1f MB before loading, %.1f MB after\n", name.c_str(), mode.c_str(),
              model_bytes / 1e6, rss_before, peak_rss_megabytes());
  std::printf("%-30s %-6s %6s %8s %12s %14s\n", "model", "mode", "batch", "threads", "images/s", "peak RSS MB");
  for (const auto batch : batches) {
    const auto images = torch::randn({batch, model->in_chans(), model->img_size(), model->img_size()});
    for (const int t : threads) {
      set_threads(t);
      torch::NoGradGuard no_grad;
      const double seconds = seconds_per_call({[&] {
                                                adapt_threads();  // as tervit-eval does each batch
                                                model->forward(images);
                                              }},
                                              min_seconds, 2, 1)[0];
      std::printf("%-30s %-6s %6ld %8d %12.2f %14.1f\n", name.c_str(), mode.c_str(), long(batch), t, batch / seconds,
                  peak_rss_megabytes());
      std::fflush(stdout);
    }
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_packed: packed ternary kernels and models against LibTorch fp32"};
  app.require_subcommand(1);
  std::vector<std::string> names{"deit_small_patch16_224", "swin_small_patch4_window7_224"};
  std::string name = "deit_small_patch16_224", mode = "fp", packed, out, bits = "2";
  std::vector<int64_t> batches{1, 32};
  std::vector<int> threads{1, 2};
  double min_seconds = 1.0;
  auto* gemm = app.add_subcommand("gemm", "every matrix product shape of the models");
  gemm->add_option("--models", names, "model names")->delimiter(',')->capture_default_str();
  auto* attention = app.add_subcommand("attention", "the runtime's attention kernels on one head of each model");
  attention->add_option("--seconds", min_seconds, "minimum measured time per kernel, over all rounds")->capture_default_str();
  auto* pack = app.add_subcommand("pack", "write a random-init packed model");
  pack->add_option("--out", out, "packed file")->required();
  pack->add_option("--bits", bits, "2 or 1.6")->capture_default_str();
  auto* whole = app.add_subcommand("model", "whole-model throughput and peak memory (one mode per process)");
  whole->add_option("--mode", mode, "fp, exact or int8")->capture_default_str();
  whole->add_option("--packed", packed, "packed file (modes exact and int8)");
  whole->add_option("--batch", batches, "batch sizes")->delimiter(',')->capture_default_str();
  for (auto* command : {pack, whole}) command->add_option("--model", name, "model name")->capture_default_str();
  for (auto* command : {gemm, whole}) {
    command->add_option("--threads", threads, "thread counts")->delimiter(',')->capture_default_str();
    command->add_option("--seconds", min_seconds, "minimum measured time per case")->capture_default_str();
  }
  return run_app(app, argc, argv, [&] {
    log_process_report("bench_packed", torch::kCPU);
    spdlog::info("packed kernels: exact {}, int8 {}", kernels::cpu_has_avx2() ? "AVX2" : "reference",
                 kernels::cpu_has_avx512_vnni() ? "AVX-512 VNNI" : kernels::cpu_has_avx2() ? "AVX2" : "reference");
    if (gemm->parsed()) return bench_gemm(names, threads, min_seconds);
    if (pack->parsed()) return bench_pack(name, out, bits);
    if (attention->parsed()) return bench_attention(min_seconds);
    return bench_model(mode, name, packed, batches, threads, min_seconds);
  });
}
