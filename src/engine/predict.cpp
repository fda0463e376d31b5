#include "tervit/engine/predict.h"

#include "tervit/core/thread_budget.h"

namespace tervit::engine {

std::vector<Prediction> predict(models::VisionModelImpl& model, const torch::Tensor& images, int64_t topk) {
  torch::NoGradGuard no_grad;
  adapt_threads();
  model.eval();
  const auto device = model.parameters().front().device();
  const auto logits = model.forward(images.to(device)).to(torch::kCPU, torch::kFloat).contiguous();
  std::vector<Prediction> predictions;
  for (int64_t i = 0; i < logits.size(0); ++i)
    predictions.push_back(prediction_from_logits(logits[i].data_ptr<float>(), logits.size(1), topk));
  return predictions;
}

}  // namespace tervit::engine
