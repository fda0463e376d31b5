// A training step against timm 1.0.31 on torch 2.15 (tools/dump_timm_parity.py): the shared mini models'
// logits and every parameter's gradient, in full precision and with channel-wise ternary weights. Both
// builds (LibTorch 1.13 and 2.x) must reproduce the same references.
#include <catch2/catch.hpp>

#include "models/apply_quant_spec.h"
#include "models/pretrained.h"
#include "models/registry.h"
#include "test_helpers.h"
#include "tervit/libtorch/safetensors.h"

using namespace tervit;
using tervit::testing::relative_error;

TEST_CASE("A training step's logits and gradients equal timm 1.0's, full precision and ternary", "[models][golden]") {
  const auto name = GENERATE(as<std::string>{}, "deit_mini", "swin_mini");
  const auto weights = GENERATE(as<std::string>{}, "fp", "ternary");
  CAPTURE(name, weights);
  const auto reference = read_safetensors(testing::source_dir() / "tests" / "fixtures" / "timm1" /
                                          (name + "." + weights + ".safetensors"));
  REQUIRE(reference.metadata.at("timm") == "1.0.31");
  const auto& expected = reference.tensors;
  // The fixture's weights in train mode, drop path off as in the reference (timm's Swin defaults to 0.1).
  const auto fixture = read_safetensors(testing::timm_fixture(name + ".safetensors"));
  auto config = YAML::Load(fixture.metadata.at("config"));
  config["drop_path_rate"] = 0.0;
  auto model = models::create_model(models::model_architecture(fixture.metadata.at("family"), config));
  models::load_weights(*model, fixture, name);
  model->train();
  if (weights == "ternary") models::apply_quant_spec(*model, quant::QuantSpec().weight_quant(quant::WeightQuant::kTernary));

  const auto logits = model->forward(expected.at("input"));
  CHECK(relative_error(logits, expected.at("logits")) < 1e-4);
  (logits * expected.at("cotangent")).sum().backward();
  size_t compared = 0;
  for (const auto& parameter : model->named_parameters()) {
    CAPTURE(parameter.key());
    const auto found = expected.find("grad." + parameter.key());
    REQUIRE(found != expected.end());
    REQUIRE(parameter.value().grad().defined());
    CHECK(relative_error(parameter.value().grad(), found->second) < 1e-4);
    ++compared;
  }
  CHECK(compared + 3 == expected.size());  // every gradient timm has, besides input, cotangent and logits
}
