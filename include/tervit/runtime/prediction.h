#pragma once
// One image's prediction from its logits (softmax, top-k), the JSON line tervit-eval and tervit-run print,
// and class-name files. Free of LibTorch: the LibTorch-free runtime prints its predictions with it too.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace tervit::runtime {

struct Prediction {
  std::vector<std::pair<int64_t, double>> topk;  // (class index, probability), most probable first
  std::vector<float> logits;
};

// The softmax's k most probable classes (all of them when k exceeds the count; ties to the lower index)
// and the logits themselves.
Prediction prediction_from_logits(const float* logits, int64_t classes, int64_t k);

// {"image": ..., "topk": [[index, probability], ...], "labels": [...] (with class names), "logits": [...]}
nlohmann::ordered_json prediction_json(const std::string& image, const Prediction& prediction,
                                       const std::vector<std::string>& class_names);

// One class name per line; the count must match the model's classes.
std::vector<std::string> read_class_names_file(const std::filesystem::path& path, int64_t num_classes);

}  // namespace tervit::runtime
