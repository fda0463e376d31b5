#include <catch2/catch.hpp>

#include <limits>

#include "models/registry.h"
#include "tervit/engine/lr_schedule.h"
#include "tervit/engine/mixed_precision.h"
#include "tervit/engine/param_groups.h"
#include "tervit/runtime/prediction.h"

using namespace tervit::engine;

TEST_CASE("Learning rate: linear warmup, then cosine to min_lr", "[engine]") {
  LrScheduleOptions o;
  o.peak_lr = 1e-3;
  o.min_lr = 1e-5;
  o.warmup_lr = 1e-6;
  o.warmup_steps = 10;
  o.total_steps = 110;
  CHECK(learning_rate(o, 0) == Approx(1e-6));
  CHECK(learning_rate(o, 5) == Approx(1e-6 + (1e-3 - 1e-6) * 0.5));
  CHECK(learning_rate(o, 10) == Approx(1e-3));
  CHECK(learning_rate(o, 60) == Approx(1e-5 + 0.5 * (1e-3 - 1e-5)));  // half way: cos(pi/2) = 0
  CHECK(learning_rate(o, 110) == Approx(1e-5));
  CHECK(learning_rate(o, 500) == Approx(1e-5));
  CHECK(scaled_lr(5e-4, 1024) == Approx(1e-3));
  CHECK(scaled_lr(5e-4, 128, 256) == Approx(2.5e-4));
  CHECK(scaled_lr(5e-4, 128, 0) == Approx(5e-4));
}

TEST_CASE("AdamW groups exempt norms, biases, tokens and position tables from weight decay", "[engine]") {
  auto deit = tervit::models::create_model(tervit::models::model_architecture(
      "deit", YAML::Load("{img_size: 32, patch_size: 16, embed_dim: 12, depth: 1, num_heads: 2, num_classes: 3, distilled: true}")));
  const auto groups = adamw_param_groups(*deit, 0.05);
  REQUIRE(groups.size() == 2);
  std::vector<std::string> decayed, exempt;
  for (const auto& item : deit->named_parameters()) (skips_weight_decay(item.key(), item.value()) ? exempt : decayed).push_back(item.key());
  // Decayed: the conv and the five matrices of the block and both heads.
  CHECK(decayed == std::vector<std::string>{"patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.proj.weight",
                                            "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc2.weight", "head.weight", "head_dist.weight"});
  CHECK(std::count(exempt.begin(), exempt.end(), "pos_embed") == 1);
  CHECK(std::count(exempt.begin(), exempt.end(), "dist_token") == 1);
  CHECK(groups[0].params().size() == decayed.size());
  CHECK(groups[1].params().size() == exempt.size());
  CHECK(static_cast<const torch::optim::AdamWOptions&>(groups[0].options()).weight_decay() == Approx(0.05));
  CHECK(static_cast<const torch::optim::AdamWOptions&>(groups[1].options()).weight_decay() == 0.0);
  CHECK(skips_weight_decay("layers.0.blocks.1.attn.relative_position_bias_table", torch::zeros({169, 3})));
}

TEST_CASE("The fp16 loss scaler unscales gradients, and halves its scale and skips the step on a non-finite one", "[engine]") {
  tervit::engine::LossScaler scaler(/*enabled=*/true, /*scale=*/1024.0);
  auto a = torch::zeros({2}, torch::requires_grad()), b = torch::zeros({3}, torch::requires_grad()), unused = torch::zeros({1});
  a.mutable_grad() = torch::full({2}, 2048.0);
  b.mutable_grad() = torch::full({3}, -512.0);
  CHECK(scaler.scale_loss(torch::ones({})).item<double>() == 1024.0);
  CHECK(scaler.unscale({a, b, unused}));
  CHECK(torch::equal(a.grad(), torch::full({2}, 2.0)));
  CHECK(torch::equal(b.grad(), torch::full({3}, -0.5)));
  CHECK(scaler.scale() == 1024.0);

  b.mutable_grad()[1] = std::numeric_limits<float>::infinity();
  CHECK_FALSE(scaler.unscale({a, b}));
  CHECK(scaler.scale() == 512.0);

  tervit::engine::LossScaler off(/*enabled=*/false);
  CHECK(off.scale() == 1.0);
  CHECK(off.unscale({b}));  // nothing checked or divided when off
  CHECK(b.grad()[0].item<double>() == -0.5 / 1024.0);  // divided by the failed attempt's scale, not since
}

TEST_CASE("A prediction holds the softmax's top k, ties to the lower class, and the logits", "[engine]") {
  const std::vector<float> logits{1.0f, 3.0f, 3.0f, 0.0f};
  const auto prediction = tervit::runtime::prediction_from_logits(logits.data(), 4, 3);
  const auto expected = torch::tensor(logits, torch::kDouble).softmax(0);
  REQUIRE(prediction.topk.size() == 3);
  const int64_t order[] = {1, 2, 0};
  for (int i = 0; i < 3; ++i) {
    CHECK(prediction.topk[i].first == order[i]);
    CHECK(prediction.topk[i].second == Approx(expected[order[i]].item<double>()).epsilon(1e-12));
  }
  CHECK(prediction.logits == logits);
  CHECK(tervit::runtime::prediction_from_logits(logits.data(), 4, 10).topk.size() == 4);
}
