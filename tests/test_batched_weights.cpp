// BatchedWeights: a model's quantized weights in a few batched passes, equal to each layer quantizing
// its own weight; and the model's forward, which uses it, against the per-layer path.
#include <catch2/catch.hpp>

#include "models/apply_quant_spec.h"
#include "test_helpers.h"
#include "tervit/quant/batched_weights.h"
#include "tervit/quant/quant_layers.h"

using namespace tervit;
using tervit::testing::relative_error;

namespace {

std::vector<quant::QuantizableLayer*> layer_pointers(torch::nn::Module& model) {
  std::vector<quant::QuantizableLayer*> layers;
  for (const auto& [name, layer] : quant::quantizable_layers(model)) layers.push_back(layer);
  return layers;
}

std::vector<torch::Tensor> gradients(models::VisionModelImpl& model, const torch::Tensor& logits) {
  model.zero_grad();
  logits.pow(2).sum().backward();
  std::vector<torch::Tensor> grads;
  for (const auto& p : model.parameters()) grads.push_back(p.grad().clone());
  return grads;
}

}  // namespace

TEST_CASE("Batched weight quantization equals each layer's own quantizer, values and gradients", "[quant]") {
  struct Case {
    const char* what;
    quant::QuantSpec spec;
    bool batchable;
  };
  using quant::QuantSpec, quant::WeightQuant, quant::Granularity;
  const auto c = GENERATE(Case{"ternary channel-wise", QuantSpec().weight_quant(WeightQuant::kTernary), true},
                          Case{"int8 channel-wise absmax", QuantSpec().weight_quant(WeightQuant::kInt8), true},
                          Case{"ternary layer-wise", QuantSpec().weight_quant(WeightQuant::kTernary).granularity(Granularity::kLayer), false},
                          Case{"ternary, learnable alpha", QuantSpec().weight_quant(WeightQuant::kTernary).learnable_alpha(true), false},
                          Case{"int8 LSQ", QuantSpec().weight_quant(WeightQuant::kInt8).lsq(true), false});
  const auto name = GENERATE(as<std::string>{}, "deit_mini", "swin_mini");
  CAPTURE(c.what, name);
  auto model = testing::fixture_model(name);
  const auto quantized = models::apply_quant_spec(*model, c.spec);
  const auto layers = layer_pointers(*model);
  {
    const quant::BatchedWeights weights(layers);
    if (!c.batchable) {
      CHECK(weights.batched_layers() == 0);
    } else if (name == "deit_mini") {
      // Rows of 48 (2 x qkv, proj, fc1; head) and of 192 (2 x fc2); the patch embedding's 768 alone.
      CHECK(weights.batched_layers() == 9);
      CHECK(weights.passes() == 2);
    } else {
      CHECK(weights.batched_layers() + 3 >= quantized.size());
      CHECK(weights.passes() >= 3);
    }
    for (auto* layer : layers) {
      const auto own = layer->weight_quantizer()->quantize(layer->latent_weight());
      const auto effective = layer->effective_weight();
      CHECK(relative_error(effective, own) < 1e-7);
      CHECK(torch::equal(effective != 0, own != 0));  // the same ternary / int8 codes
    }
  }
  for (auto* layer : layers) CHECK(torch::equal(layer->effective_weight(), layer->weight_quantizer()->quantize(layer->latent_weight())));

  // The model's forward (batched) against forward_head(head_features(...)) (each layer on its own); in
  // eval mode, where Swin's drop path (0.1 by default, as timm's) leaves both passes alike.
  model->eval();
  const auto input = torch::randn({2, model->in_chans(), model->img_size(), model->img_size()});
  const auto batched_logits = model->forward(input);
  const auto batched = gradients(*model, batched_logits);
  const auto own_logits = model->forward_head(model->head_features(input));
  const auto own = gradients(*model, own_logits);
  CHECK(relative_error(batched_logits, own_logits) < 1e-6);
  for (size_t i = 0; i < own.size(); ++i) {
    CAPTURE(i);
    CHECK(relative_error(batched[i], own[i]) < 1e-6);
  }
}
