#pragma once
// An exponential moving average of a model's weights (timm's ModelEmaV2): after every optimizer step
// ema = decay * ema + (1 - decay) * weights, over parameters and float buffers. Evaluated by swapping
// the averaged weights into the model for the duration of an evaluation.
#include <torch/torch.h>

#include "tervit/libtorch/safetensors.h"

namespace tervit::engine {

class ModelEma {
 public:
  ModelEma(torch::nn::Module& model, double decay);
  void update(torch::nn::Module& model);
  const TensorMap& weights() const { return weights_; }
  // Restores saved averages (a checkpoint's); throws tervit::Error naming `source` on a mismatch.
  void load(const TensorMap& weights, const std::string& source);

  // Puts the averaged weights into the model until destroyed, then the trained ones back.
  class Swap {
   public:
    Swap(torch::nn::Module& model, const ModelEma& ema);
    ~Swap();
    Swap(const Swap&) = delete;
    Swap& operator=(const Swap&) = delete;

   private:
    torch::nn::Module& model_;
    TensorMap saved_;
  };

 private:
  double decay_;
  TensorMap weights_;  // on the model's device
};

}  // namespace tervit::engine
