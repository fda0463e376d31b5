// Attention's forward and backward on the CPU, float32, from a qkv tensor: tervit's fused cpu_attention
// against LibTorch's scaled_dot_product_attention (2.x builds) and the plain matmul form, in
// alternating rounds (medians). It decides which one models/layers.cpp takes on the CPU.
//   build/bench_attention --threads 1,2 --rounds 5
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include "models/cpu_attention.h"
#include "models/layers.h"
#include "tervit/libtorch/app.h"
#include "tervit/libtorch/process.h"

namespace {

// One attention call of a model at batch 32: windows x tokens, channels, heads, bias groups (0: no bias).
struct Shape {
  const char* name;
  int64_t windows, tokens, channels, heads, bias_groups;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

using Attention = std::function<torch::Tensor(const torch::Tensor&, int64_t, const torch::Tensor&)>;

double forward_backward_ms(const Attention& attention, const Shape& s, const torch::Tensor& qkv, const torch::Tensor& bias) {
  const auto start = std::chrono::steady_clock::now();
  attention(qkv, s.heads, bias).sum().backward();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_attention: fused CPU attention against scaled_dot_product_attention and matmul"};
  std::vector<int> threads{1, 2};
  int rounds = 5;
  app.add_option("--threads", threads, "thread counts")->delimiter(',')->capture_default_str();
  app.add_option("--rounds", rounds, "alternating rounds")->capture_default_str()->check(CLI::PositiveNumber);
  return tervit::run_app(app, argc, argv, [&] {
    tervit::log_process_report("bench_attention", torch::kCPU);
    const std::vector<Shape> shapes{{"deit_tiny b32", 32, 197, 192, 3, 0},
                                    {"deit_small b32", 32, 197, 384, 6, 0},
                                    {"swin_tiny s1 b32", 2048, 49, 96, 3, 1},
                                    {"swin_tiny s1 shifted", 2048, 49, 96, 3, 64},
                                    {"swin_tiny s3 shifted", 128, 49, 384, 12, 4}};
    torch::nn::Dropout no_dropout(0.0);
    std::vector<std::pair<const char*, Attention>> forms{
        {"cpu_attention", [](const torch::Tensor& q, int64_t h, const torch::Tensor& b) { return tervit::models::cpu_attention(q, h, b); }},
        {"matmul", [&](const torch::Tensor& q, int64_t h, const torch::Tensor& b) {
           return tervit::models::matmul_attention(q, h, b, no_dropout);
         }}};
    if (tervit::models::sdpa_available())
      forms.emplace_back("sdpa", [&](const torch::Tensor& q, int64_t h, const torch::Tensor& b) {
        return tervit::models::sdpa_attention(q, h, b, no_dropout);
      });
    std::printf("%-22s %8s", "shape", "threads");
    for (const auto& form : forms) std::printf(" %16s", (std::string(form.first) + " ms").c_str());
    std::printf("\n");
    for (const int t : threads) {
      tervit::set_threads(t);
      for (const auto& s : shapes) {
        torch::manual_seed(0);
        const auto qkv = torch::randn({s.windows, s.tokens, 3 * s.channels}).requires_grad_();
        const auto bias = s.bias_groups > 0 ? torch::randn({s.bias_groups, s.heads, s.tokens, s.tokens}).requires_grad_() : torch::Tensor();
        std::vector<std::vector<double>> ms(forms.size());
        for (size_t f = 0; f < forms.size(); ++f) forward_backward_ms(forms[f].second, s, qkv, bias);  // warm-up
        for (int r = 0; r < rounds; ++r)
          for (size_t f = 0; f < forms.size(); ++f) ms[f].push_back(forward_backward_ms(forms[f].second, s, qkv, bias));
        std::printf("%-22s %8d", s.name, t);
        for (const auto& m : ms) std::printf(" %16.2f", median(m));
        std::printf("\n");
        std::fflush(stdout);
      }
    }
    return tervit::kExitOk;
  });
}
