#include "test_train_helpers.h"

#include <algorithm>
#include <fstream>

#include "test_helpers.h"
#include "tervit/data/idx.h"

namespace fs = std::filesystem;

namespace tervit::testing {

const fs::path& tiny_fashion_mnist() {
  static TempDir dir;
  static const fs::path root = [] {
    data::export_fashion_mnist("/usr/share/datasets/fashion-mnist", dir / "fm", 160);
    return dir / "fm";
  }();
  return root;
}

std::vector<nlohmann::json> metrics_without_timing(const fs::path& file) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    auto json = nlohmann::json::parse(line);
    for (const auto* key : {"img_per_s", "eval_img_per_s"}) json.erase(key);
    lines.push_back(json);
  }
  return lines;
}

fs::path final_checkpoint(const fs::path& run) {
  std::vector<fs::path> steps;
  for (const auto& entry : fs::directory_iterator(run / "checkpoints"))
    if (entry.path().filename().string().rfind("step-", 0) == 0) steps.push_back(entry.path());
  std::sort(steps.begin(), steps.end());
  return steps.back();
}

}  // namespace tervit::testing
