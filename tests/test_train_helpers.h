#pragma once
// Shared by the tervit-train suites: a slice of Fashion-MNIST, and reading back what a run wrote.
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

}  // namespace tervit::testing
