// tervit-train on CUDA against the same run on the CPU: fp32 step by step, bf16 and fp16 autocast close to
// it, and CUDA-trained checkpoints that evaluate on the CPU. Where no GPU is visible, asking for one is a
// clear error instead.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_helpers.h"
#include "test_train_helpers.h"

namespace fs = std::filesystem;
using tervit::testing::metrics_without_timing;
using tervit::testing::run;
using tervit::testing::TempDir;
using tervit::testing::tiny_fashion_mnist;

namespace {

// An fp stage then a ternary one, 5 steps each, with nothing random on the device (no drop path, dropout
// or mixing: every random draw happens in the CPU data pipeline, the same for both devices). No qkv bias:
// its key part has zero gradient in exact arithmetic, and AdamW turns the rounding noise there into
// lr-sized steps that differ between devices.
std::string write_config(const TempDir& dir, const std::string& name, const std::string& architecture) {
  const auto path = dir / (name + ".yaml");
  std::ofstream(path) << "model: {name: " << name << ", architecture: {" << architecture
                      << ", num_classes: 10, qkv_bias: false, drop_path_rate: 0.0}}\n"
                      << "data: {root: " << tiny_fashion_mnist().string() << ", batch_size: 32, workers: 1, crop_pct: 1.0}\n"
                      << "augment: {auto_augment: '', color_jitter: 0, reprob: 0, mixup: 0, cutmix: 0}\n"
                         "optimizer: {lr_base_batch: 0, clip_grad: 1.0}\n"
                         "logging: {every_steps: 1}\n"
                         "runtime: {threads: 1, seed: 11}\n"
                         "stages:\n"
                         "  - {name: fp, epochs: 1, lr: 2.0e-3, warmup_epochs: 0}\n"
                         "  - {name: ternary, epochs: 1, weight_quant: ternary, lr: 5.0e-4, warmup_epochs: 0}\n";
  return path.string();
}

struct Trained {
  std::vector<double> losses;    // the 10 steps
  std::vector<nlohmann::json> epochs;  // fp's and ternary's epoch lines
  fs::path best_ternary;
};

Trained train(const TempDir& dir, const std::string& config, const std::string& name, const std::string& settings) {
  const auto out = dir / name;
  const auto result = run(dir, "tervit-train", "--config " + config + " --output " + out.string() + " " + settings);
  INFO(name << ": " << result.err);
  REQUIRE(result.exit_code == 0);
  Trained trained;
  for (const auto& line : metrics_without_timing(out / "metrics.jsonl")) {
    if (line["kind"] == "epoch") trained.epochs.push_back(line);
    else trained.losses.push_back(line["loss"].get<double>());
  }
  REQUIRE(trained.losses.size() == 10);
  REQUIRE(trained.epochs.size() == 2);
  trained.best_ternary = out / "checkpoints" / "best-ternary";
  return trained;
}

double max_relative_difference(const std::vector<double>& actual, const std::vector<double>& expected, size_t from, size_t to) {
  double worst = 0.0;
  for (size_t i = from; i < to; ++i) {
    if (!std::isfinite(actual[i])) return INFINITY;
    worst = std::max(worst, std::abs(actual[i] - expected[i]) / std::abs(expected[i]));
  }
  return worst;
}

}  // namespace

TEST_CASE("On CUDA, tervit-train follows the CPU run in fp32, stays close under autocast, and its checkpoints evaluate on the CPU",
          "[cli][train][cuda]") {
  TempDir dir;
  const auto deit = write_config(dir, "deit", "img_size: 28, patch_size: 7, embed_dim: 24, depth: 2, num_heads: 2");
  if (!torch::cuda::is_available()) {
    const auto refused = run(dir, "tervit-train", "--config " + deit + " --output " + (dir / "cuda").string() + " --device cuda");
    CHECK(refused.exit_code == 2);
    CHECK_THAT(refused.err, Catch::Contains("CUDA"));
    CHECK_FALSE(fs::exists(dir / "cuda"));
    tervit::testing::skip_test("no CUDA device: the CPU/CUDA comparison did not run");
    return;
  }
  // Swin adds the shifted-window mask and relative position tables, which must follow the model to the GPU.
  const auto swin = write_config(dir, "swin", "img_size: 28, patch_size: 2, embed_dim: 24, depths: [2, 2], num_heads: [2, 4], window_size: 7");
  for (const auto& [model, config] : {std::pair<std::string, std::string>{"deit", deit}, {"swin", swin}}) {
    INFO(model);
    const auto cpu = train(dir, config, model + "-cpu", "--device cpu");
    const auto cuda = train(dir, config, model + "-cuda", "--device cuda");
    // cuDNN's convolutions (the patch embedding) round through TF32 by default, as in PyTorch: differences
    // of about 1e-4 in the fp steps. A ternary weight near its threshold may then land on the other
    // side, which moves the ternary steps more.
    const double fp_steps = max_relative_difference(cuda.losses, cpu.losses, 0, 5);
    const double ternary_steps = max_relative_difference(cuda.losses, cpu.losses, 5, 10);
    WARN(model << " CUDA vs CPU, largest relative loss difference: fp steps " << fp_steps << ", ternary steps " << ternary_steps);
    CHECK(fp_steps <= 2e-3);
    CHECK(ternary_steps <= 2e-2);
    for (size_t e = 0; e < 2; ++e) {
      CHECK(cuda.epochs[e]["val_top1"].get<double>() == Approx(cpu.epochs[e]["val_top1"].get<double>()).margin(2 * 100.0 / 160));
      CHECK(cuda.epochs[e]["val_loss"].get<double>() == Approx(cpu.epochs[e]["val_loss"].get<double>()).epsilon(2e-2));
    }

    // The CUDA run's ternary checkpoint scores on the CPU what the run measured on the GPU.
    const auto eval = run(dir, "tervit-eval", "--checkpoint " + cuda.best_ternary.string() + " --data " +
                                                  (tiny_fashion_mnist() / "val").string() + " --device cpu --threads 1");
    INFO(eval.err);
    REQUIRE(eval.exit_code == 0);
    const auto scores = nlohmann::json::parse(eval.out);
    CHECK(scores["top1"].get<double>() == Approx(cuda.epochs[1]["val_top1"].get<double>()).margin(100.0 / 160));
    CHECK(scores["loss"].get<double>() == Approx(cuda.epochs[1]["val_loss"].get<double>()).epsilon(1e-3));

    // Autocast: the first step runs on the same weights, so its loss differs by the rounding of 16-bit
    // activations alone; later steps drift further but stay finite and close.
    for (const auto* amp : {"bf16", "fp16"}) {
      INFO(amp);
      const auto mixed = train(dir, config, model + "-" + amp, std::string("--device cuda --set runtime.amp=") + amp);
      const double first = max_relative_difference(mixed.losses, cuda.losses, 0, 1);
      const double all = max_relative_difference(mixed.losses, cuda.losses, 0, 10);
      WARN(model << " " << amp << " vs fp32 on CUDA, relative loss difference: first step " << first << ", any step " << all);
      CHECK(first <= (std::string(amp) == "bf16" ? 1e-2 : 2e-3));
      CHECK(all <= 5e-2);
      CHECK(mixed.epochs[1]["val_top1"].get<double>() == Approx(cuda.epochs[1]["val_top1"].get<double>()).margin(5.0));
    }
  }
}
