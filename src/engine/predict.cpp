#include "tervit/engine/predict.h"

#include <fstream>

#include "tervit/core/error.h"

namespace tervit::engine {

std::vector<Prediction> predict(models::VisionModelImpl& model, const torch::Tensor& images, int64_t topk) {
  torch::NoGradGuard no_grad;
  model.eval();
  const auto device = model.parameters().front().device();
  const auto logits = model.forward(images.to(device)).to(torch::kCPU, torch::kFloat).contiguous();
  const auto k = std::min<int64_t>(topk, logits.size(1));
  const auto [probabilities, indices] = logits.softmax(1).topk(k, 1);
  std::vector<Prediction> predictions(logits.size(0));
  for (int64_t i = 0; i < logits.size(0); ++i) {
    for (int64_t j = 0; j < k; ++j)
      predictions[i].topk.emplace_back(indices[i][j].item<int64_t>(), probabilities[i][j].item<double>());
    const float* row = logits[i].data_ptr<float>();
    predictions[i].logits.assign(row, row + logits.size(1));
  }
  return predictions;
}

nlohmann::ordered_json prediction_json(const std::string& image, const Prediction& prediction,
                               const std::vector<std::string>& class_names) {
  nlohmann::ordered_json line;
  line["image"] = image;
  line["topk"] = nlohmann::ordered_json::array();
  for (const auto& [index, probability] : prediction.topk) line["topk"].push_back({index, probability});
  if (!class_names.empty()) {
    line["labels"] = nlohmann::ordered_json::array();
    for (const auto& entry : prediction.topk) line["labels"].push_back(class_names.at(entry.first));
  }
  line["logits"] = prediction.logits;
  return line;
}

std::vector<std::string> read_class_names(const std::filesystem::path& path, int64_t num_classes) {
  std::ifstream file(path);
  if (!file) throw Error(path.string() + ": cannot open class names file");
  std::vector<std::string> names;
  for (std::string line; std::getline(file, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (static_cast<int64_t>(names.size()) != num_classes)
    throw Error(path.string() + ": " + std::to_string(names.size()) + " class names for a model of " +
                std::to_string(num_classes) + " classes");
  return names;
}

}  // namespace tervit::engine
