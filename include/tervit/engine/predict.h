#pragma once
// Classifying images: batched forward, softmax and top-k, and the JSON line tervit-eval prints.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "models/vision_model.h"

namespace tervit::engine {

struct Prediction {
  std::vector<std::pair<int64_t, double>> topk;  // (class index, probability), most probable first
  std::vector<float> logits;
};

// Eval-mode predictions for a batch of preprocessed images [B, C, H, W] (moved to the model's device).
std::vector<Prediction> predict(models::VisionModelImpl& model, const torch::Tensor& images, int64_t topk);

// {"image": ..., "topk": [[index, probability], ...], "labels": [...] (with class names), "logits": [...]}
nlohmann::ordered_json prediction_json(const std::string& image, const Prediction& prediction,
                               const std::vector<std::string>& class_names);

// One class name per line; the count must match the model's classes.
std::vector<std::string> read_class_names(const std::filesystem::path& path, int64_t num_classes);

}  // namespace tervit::engine
