#pragma once
// Shared by the tervit-train suites: a slice of Fashion-MNIST as an ImageFolder, and reading back what
// a run wrote.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <vector>

namespace tervit::testing {

// 160 training and 160 validation images, 10 classes; made once per test process.
const std::filesystem::path& tiny_fashion_mnist();

// The metrics log without its timing fields, which differ from run to run.
std::vector<nlohmann::json> metrics_without_timing(const std::filesystem::path& file);

// The run folder's newest step checkpoint.
std::filesystem::path final_checkpoint(const std::filesystem::path& run);

}  // namespace tervit::testing
