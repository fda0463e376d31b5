// engine::AdamW: LibTorch's fused kernel against torch::optim::AdamW's own step, and the same state.
#include <catch2/catch.hpp>

#include "tervit/engine/adamw.h"
#include "tervit/engine/optimizer_state.h"
#include "test_helpers.h"

using namespace tervit;
using tervit::testing::relative_error;

namespace {

// Two groups as the trainer builds them (decayed matrices; vectors without decay, another lr).
std::unique_ptr<engine::AdamW> make_adamw(const std::vector<torch::Tensor>& params, bool fused) {
  std::vector<torch::optim::OptimizerParamGroup> groups{
      torch::optim::OptimizerParamGroup({params[0], params[1]}),
      torch::optim::OptimizerParamGroup({params[2]}, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(3e-3).weight_decay(0)))};
  torch::optim::AdamWOptions defaults(1e-2);
  defaults.betas({0.9, 0.95}).eps(1e-6).weight_decay(0.05);
  auto& second = static_cast<torch::optim::AdamWOptions&>(groups[1].options());
  second.betas(defaults.betas()).eps(defaults.eps());
  return std::make_unique<engine::AdamW>(std::move(groups), defaults, fused);
}

std::vector<torch::Tensor> make_params() {
  torch::manual_seed(3);
  return {torch::randn({17, 33}).requires_grad_(), torch::randn({5, 4, 3}).requires_grad_(), torch::randn({33}).requires_grad_()};
}

}  // namespace

TEST_CASE("The fused AdamW step equals torch::optim::AdamW's to float rounding, steps and moments included", "[engine][optim]") {
  if (!engine::AdamW::fused_available()) {
    testing::skip_test("LibTorch " TORCH_VERSION " has no fused AdamW kernel on the CPU");
    return;
  }
  auto plain_params = make_params(), fused_params = make_params();
  auto plain = make_adamw(plain_params, /*fused=*/false), fused = make_adamw(fused_params, /*fused=*/true);
  REQUIRE_FALSE(plain->fused());
  REQUIRE(fused->fused());
  torch::manual_seed(4);
  for (int step = 0; step < 6; ++step) {
    for (size_t i = 0; i < plain_params.size(); ++i) {
      // The middle parameter has no gradient in steps 1 and 2: it is skipped and its step count lags, so
      // the fused path sees parameters at different steps in one group.
      const bool has_grad = !(i == 1 && (step == 1 || step == 2));
      const auto grad = torch::randn(plain_params[i].sizes());
      plain_params[i].mutable_grad() = has_grad ? grad.clone() : torch::Tensor();
      fused_params[i].mutable_grad() = has_grad ? grad.clone() : torch::Tensor();
    }
    plain->step();
    fused->step();
  }
  for (size_t i = 0; i < plain_params.size(); ++i) {
    CAPTURE(i);
    CHECK(relative_error(fused_params[i], plain_params[i]) < 1e-6);
    CHECK(relative_error(fused_params[i], make_params()[i]) > 1e-3);  // it did train
  }
  const auto plain_state = engine::adamw_state(*plain), fused_state = engine::adamw_state(*fused);
  REQUIRE(plain_state.size() == fused_state.size());
  for (const auto& [name, tensor] : plain_state) {
    CAPTURE(name);
    if (tensor.scalar_type() == torch::kInt64)
      CHECK(fused_state.at(name).item<int64_t>() == tensor.item<int64_t>());
    else
      CHECK(relative_error(fused_state.at(name), tensor) < 1e-6);
  }
  CHECK(fused_state.at("group0.param1.step").item<int64_t>() == 4);
}
