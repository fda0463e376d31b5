#pragma once
// Classifying images with a LibTorch model: batched forward, then prediction.h's softmax and top-k.
#include <torch/torch.h>

#include <vector>

#include "models/vision_model.h"
#include "tervit/runtime/prediction.h"

namespace tervit::engine {

// Eval-mode predictions for a batch of preprocessed images [B, C, H, W] (moved to the model's device).
std::vector<runtime::Prediction> classify(models::VisionModelImpl& model, const torch::Tensor& images, int64_t topk);

}  // namespace tervit::engine
