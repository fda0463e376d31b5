#pragma once
// Shared by the tervit-train suites: a slice of Fashion-MNIST, a two-stage config that trains on it in
// seconds, and reading back what a run wrote.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_helpers.h"
#include "tervit/data/idx.h"

namespace tervit::testing {

// 160 training and 160 validation images, 10 classes, exported once per test process.
inline const std::filesystem::path& tiny_fashion_mnist() {
  static TempDir dir;
  static const std::filesystem::path root = [] {
    tervit::data::export_fashion_mnist("/usr/share/datasets/fashion-mnist", dir / "fm", 160);
    return dir / "fm";
  }();
  return root;
}

// The metrics log without its timing fields, which differ from run to run.
inline std::vector<nlohmann::json> metrics_without_timing(const std::filesystem::path& file) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    auto json = nlohmann::json::parse(line);
    for (const auto* key : {"img_per_s", "eval_img_per_s"}) json.erase(key);
    lines.push_back(json);
  }
  return lines;
}

// The run folder's newest step checkpoint.
inline std::filesystem::path final_checkpoint(const std::filesystem::path& run) {
  std::vector<std::filesystem::path> steps;
  for (const auto& entry : std::filesystem::directory_iterator(run / "checkpoints"))
    if (entry.path().filename().string().rfind("step-", 0) == 0) steps.push_back(entry.path());
  std::sort(steps.begin(), steps.end());
  return steps.back();
}

// Two stages (fp, ternary), one epoch each, 10 steps per epoch, a checkpoint every 3 steps; written as
// dir/run.yaml, whose path is returned.
inline std::string write_train_config(const TempDir& dir, const std::string& fp_stage_keys = "lr: 1.0e-3") {
  const auto path = dir / "run.yaml";
  std::ofstream(path) << "model: {name: deit, architecture: {img_size: 28, patch_size: 7, embed_dim: 24, depth: 1, "
                         "num_heads: 2, num_classes: 10, drop_path_rate: 0.1}}\n"
                      << "data: {root: " << tiny_fashion_mnist().string()
                      << ", batch_size: 16, workers: 2, crop_pct: 1.0, interpolation: bilinear}\n"
                         "augment: {scale: [0.5, 1.0], auto_augment: rand-m9-mstd0.5-inc1, reprob: 0.25, mixup: 0.8, cutmix: 1.0}\n"
                         "optimizer: {lr_base_batch: 0, clip_grad: 1.0}\n"
                         "checkpoint: {every_steps: 3, keep_last: 2}\n"
                         "logging: {every_steps: 2}\n"
                         "runtime: {threads: 1, seed: 3}\n"
                         "stages:\n"
                         "  - {name: fp, epochs: 1, " << fp_stage_keys << "}\n"
                         "  - {name: ternary, epochs: 1, weight_quant: ternary, lr: 5.0e-4, reset_optimizer: false}\n";
  return path.string();
}

}  // namespace tervit::testing
