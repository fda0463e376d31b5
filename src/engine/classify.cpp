#include "tervit/engine/classify.h"

#include "tervit/core/thread_budget.h"

namespace tervit::engine {

std::vector<runtime::Prediction> classify(models::VisionModelImpl& model, const torch::Tensor& images, int64_t topk) {
  torch::NoGradGuard no_grad;
  adapt_threads();
  model.eval();
  const auto device = model.parameters().front().device();
  const auto logits = model.forward(images.to(device)).to(torch::kCPU, torch::kFloat).contiguous();
  std::vector<runtime::Prediction> predictions;
  for (int64_t i = 0; i < logits.size(0); ++i)
    predictions.push_back(runtime::prediction_from_logits(logits[i].data_ptr<float>(), logits.size(1), topk));
  return predictions;
}

}  // namespace tervit::engine
