// Quantization applied to whole models: fake-quantized forward against an independent implementation
// of the formulas, the paper's model sizes, layer selection, learnable quantizer tensors, diagnostics.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>

#include "models/apply_quant_spec.h"
#include "models/layers.h"
#include "models/pretrained.h"
#include "models/registry.h"
#include "test_helpers.h"
#include "tervit/core/error.h"
#include "tervit/libtorch/safetensors.h"
#include "tervit/quant/diagnostics.h"
#include "tervit/quant/model_size.h"
#include "tervit/quant/quant_layers.h"
#include "tervit/quant/quant_spec.h"
#include "tervit/quant/ternary.h"

using namespace tervit;
using namespace tervit::quant;
using tervit::testing::relative_error;
using tervit::testing::fixture_model;
using tervit::testing::timm_fixture;

namespace {

// method.md's ternary formula written out element by element, in double, one group of weights at a
// time: deliberately nothing shared with src/quant.
torch::Tensor reference_ternary(const torch::Tensor& weight, double delta, bool per_channel) {
  const auto groups = weight.to(torch::kDouble).reshape({per_channel ? weight.size(0) : 1, -1}).contiguous();
  auto out = torch::zeros_like(groups);
  auto in = groups.accessor<double, 2>();
  auto result = out.accessor<double, 2>();
  for (int64_t r = 0; r < groups.size(0); ++r) {
    double total = 0, kept_total = 0;
    int64_t kept = 0;
    for (int64_t i = 0; i < groups.size(1); ++i) total += std::abs(in[r][i]);
    const double threshold = delta * total / groups.size(1);
    for (int64_t i = 0; i < groups.size(1); ++i)
      if (std::abs(in[r][i]) > threshold) kept_total += std::abs(in[r][i]), ++kept;
    const double alpha = kept > 0 ? kept_total / kept : 0.0;
    for (int64_t i = 0; i < groups.size(1); ++i)
      if (std::abs(in[r][i]) > threshold) result[r][i] = in[r][i] > 0 ? alpha : -alpha;
  }
  return out.view(weight.sizes()).to(weight.scalar_type());
}

std::map<std::string, WeightQuantizerPtr> quantizers_by_layer(models::VisionModelImpl& model) {
  std::map<std::string, WeightQuantizerPtr> quantizers;
  for (const auto& [name, layer] : quantizable_layers(model)) quantizers[name] = layer->weight_quantizer();
  return quantizers;
}

QuantSpec spec_from(const std::string& yaml) { return quant_spec_from_yaml(YAML::Load(yaml)); }

}  // namespace

TEST_CASE("Ternary fixture models compute what the plain formula gives on the same weights", "[quant]") {
  const auto name = GENERATE(as<std::string>{}, "deit_mini", "swin_mini");
  const auto per_channel = GENERATE(true, false);
  CAPTURE(name, per_channel);
  auto quantized = fixture_model(name);
  const auto selected = apply_quant_spec(*quantized, QuantSpec().weight_quant(WeightQuant::kTernary).granularity(
                                                         per_channel ? Granularity::kChannel : Granularity::kLayer));
  auto reference = fixture_model(name);
  {
    torch::NoGradGuard no_grad;
    auto parameters = reference->named_parameters();
    for (const auto& layer : selected) {
      auto weight = parameters[layer + ".weight"];
      weight.copy_(reference_ternary(weight, 0.7, per_channel));
    }
  }
  CHECK(selected.size() == quantizable_layers(*quantized).size());
  const auto input = read_safetensors(timm_fixture(name + ".io.safetensors")).tensors.at("input");
  torch::NoGradGuard no_grad;
  const auto expected = reference->forward(input);
  CHECK(relative_error(quantized->forward(input), expected) < 1e-5);
  CHECK(relative_error(quantized->forward(input), fixture_model(name)->forward(input)) > 1e-2);  // it did quantize
}

TEST_CASE("Model sizes follow the paper's accounting for the six named variants", "[quant][slow]") {
  const std::vector<std::string> names{"deit_tiny_patch16_224", "deit_small_patch16_224", "deit_base_patch16_224",
                                       "swin_tiny_patch4_window7_224", "swin_small_patch4_window7_224", "swin_base_patch4_window7_224"};
  std::map<std::string, double> megabytes;
  for (const auto& name : names) {
    CAPTURE(name);
    auto model = models::create_model(name);
    // Matrix weights by name and shape: every `.weight` of two or more dimensions (norm weights are 1-D).
    int64_t matrix_weights = 0, others = 0, channels = 0;
    for (const auto& item : model->named_parameters()) {
      const bool is_matrix = item.value().dim() >= 2 && item.key().size() > 7 && item.key().substr(item.key().size() - 7) == ".weight";
      (is_matrix ? matrix_weights : others) += item.value().numel();
      if (is_matrix) channels += item.value().size(0);
    }
    apply_quant_spec(*model, spec_from("weight_quant: ternary"));
    const auto size = model_size(*model);
    CHECK(size.ternary_weights == matrix_weights);
    CHECK(size.float_parameters == others);
    CHECK(size.int8_weights == 0);
    CHECK(size.scales == channels);
    CHECK(size.paper_megabytes() == Approx((2.0 * matrix_weights + 32.0 * others) / 8 / 1e6).epsilon(1e-12));
    megabytes[name] = size.paper_megabytes();

    apply_quant_spec(*model, spec_from("{weight_quant: int8, quant: {granularity: layer}}"));
    CHECK(model_size(*model).paper_megabytes() == Approx((8.0 * matrix_weights + 32.0 * others) / 8 / 1e6).epsilon(1e-12));
    CHECK(model_size(*model).scales == static_cast<int64_t>(quantizable_layers(*model).size()));
    apply_quant_spec(*model, QuantSpec());
    CHECK(model_size(*model).paper_megabytes() == Approx(32.0 * (matrix_weights + others) / 8 / 1e6).epsilon(1e-12));
  }
  // Matrix weights (ternary) + other parameters (float): DeiT-T 5,647,872 + 69,544; DeiT-S 21,912,576 +
  // 138,088; DeiT-B 86,292,480 + 275,176; Swin-T 28,199,424 + 88,930; Swin-S 49,433,088 + 173,170;
  // Swin-B 87,537,664 + 230,560. Swin-S's 49.43 M matches method.md, whose "0.18 M others" rounds
  // 173,170 up: the exact figure is 13.05 MB, which still rounds to the paper's 13.1 MB.
  const std::map<std::string, std::string> expected{
      {"deit_tiny_patch16_224", "1.69"},         {"deit_small_patch16_224", "6.03"},        {"deit_base_patch16_224", "22.67"},
      {"swin_tiny_patch4_window7_224", "7.41"}, {"swin_small_patch4_window7_224", "13.05"}, {"swin_base_patch4_window7_224", "22.81"}};
  for (const auto& [name, text] : expected) {
    CAPTURE(name);
    char rounded[32];
    std::snprintf(rounded, sizeof(rounded), "%.2f", megabytes.at(name));
    CHECK(rounded == text);
  }
  char paper[32];
  std::snprintf(paper, sizeof(paper), "%.1f", megabytes.at("swin_small_patch4_window7_224"));
  CHECK(std::string(paper) == "13.1");
}

TEST_CASE("Quantization specs parse from a stage config and name what is wrong", "[quant]") {
  const auto spec = spec_from(R"(
    weight_quant: ternary
    epochs: 3
    quant: {delta: 0.6, granularity: layer, learnable_alpha: true, lsq: true, activation: absmax_token,
            keep_first_last: true, include: ["blocks.*"], exclude: ["*.fc2"]})");
  CHECK(spec.weight_quant() == WeightQuant::kTernary);
  CHECK(spec.delta() == 0.6);
  CHECK(spec.granularity() == Granularity::kLayer);
  CHECK(spec.learnable_alpha());
  CHECK(spec.lsq());
  CHECK(spec.activation() == ActivationQuant::kAbsmaxToken);
  CHECK(spec.keep_first_last());
  CHECK(spec.include() == std::vector<std::string>{"blocks.*"});
  CHECK(spec.exclude() == std::vector<std::string>{"*.fc2"});
  CHECK(describe(spec) == "ternary (layer-wise, delta 0.6, learnable alpha), 8-bit inputs (absmax_token), first and last layers in full precision");

  const auto defaults = spec_from("{name: fp}");
  CHECK(defaults.weight_quant() == WeightQuant::kFp);
  CHECK(defaults.delta() == 0.7);
  CHECK(defaults.granularity() == Granularity::kChannel);
  CHECK(defaults.activation() == ActivationQuant::kNone);

  const auto error_of = [](const std::string& yaml) {
    return tervit::testing::error_message([&] { quant_spec_from_yaml(YAML::Load(yaml), "stages[1]."); });
  };
  CHECK_THAT(error_of("{weight_quant: ternery}"), Catch::Contains("stages[1].weight_quant") && Catch::Contains("'ternery'") && Catch::Contains("did you mean 'ternary'"));
  CHECK_THAT(error_of("{quant: {deltta: 0.5}}"), Catch::Contains("stages[1].quant.deltta: unknown key") && Catch::Contains("'delta'"));
  CHECK_THAT(error_of("{quant: {granularity: channels}}"), Catch::Contains("quant.granularity") && Catch::Contains("'channel'"));
  CHECK_THAT(error_of("{quant: {delta: big}}"), Catch::Contains("quant.delta: expected a number") && Catch::Contains("big"));
  CHECK_THAT(error_of("{quant: {delta: -1}}"), Catch::Contains("quant.delta: must be a positive number"));
  CHECK_THAT(error_of("{quant: {exclude: 3}}"), Catch::Contains("quant.exclude: expected a list"));
  CHECK_THAT(error_of("{quant: {learnable_alpha: maybe}}"), Catch::Contains("quant.learnable_alpha: expected true or false"));
  CHECK_THAT(error_of("{quant: [1, 2]}"), Catch::Contains("stages[1].quant: expected a map"));
}

TEST_CASE("keep_first_last and name patterns choose the quantized layers", "[quant]") {
  auto deit = models::create_model("deit_tiny_patch16_224");
  apply_quant_spec(*deit, spec_from("{weight_quant: ternary, quant: {keep_first_last: true}}"));
  auto quantizers = quantizers_by_layer(*deit);
  CHECK(quantizers.at("patch_embed.proj") == nullptr);
  CHECK(quantizers.at("head") == nullptr);
  CHECK(quantizers.at("blocks.0.attn.qkv")->name() == "ternary");
  CHECK(quantizers.at("blocks.11.mlp.fc2")->name() == "ternary");

  auto distilled = models::create_model("deit_tiny_distilled_patch16_224");
  apply_quant_spec(*distilled, spec_from("{weight_quant: int8, quant: {keep_first_last: true}}"));
  CHECK(quantizers_by_layer(*distilled).at("head_dist") == nullptr);
  CHECK(quantizers_by_layer(*distilled).at("blocks.0.attn.proj")->name() == "int8");

  auto swin = models::create_model("swin_tiny_patch4_window7_224");
  const auto selected = apply_quant_spec(*swin, spec_from("{weight_quant: ternary, quant: {keep_first_last: true, exclude: ['*.mlp.*', 'layers.1.*']}}"));
  quantizers = quantizers_by_layer(*swin);
  CHECK(quantizers.at("patch_embed.proj") == nullptr);
  CHECK(quantizers.at("head.fc") == nullptr);
  CHECK(quantizers.at("layers.0.blocks.0.mlp.fc1") == nullptr);
  CHECK(quantizers.at("layers.1.downsample.reduction") == nullptr);
  CHECK(quantizers.at("layers.2.downsample.reduction") != nullptr);
  CHECK(quantizers.at("layers.0.blocks.1.attn.qkv") != nullptr);
  // qkv and proj of the 2 + 6 + 2 blocks outside stage 1, and the stage 2 and 3 reductions.
  CHECK(selected.size() == 2 * (2 + 6 + 2) + 2);

  apply_quant_spec(*swin, spec_from("{weight_quant: ternary, quant: {include: ['*.qk?']}}"));
  for (const auto& [name, quantizer] : quantizers_by_layer(*swin)) {
    CAPTURE(name);
    CHECK((quantizer != nullptr) == (name.size() > 4 && name.substr(name.size() - 4) == ".qkv"));
  }
}

TEST_CASE("Switching quantizers keeps the latent weights, and state dicts still load strictly", "[quant]") {
  auto model = fixture_model("deit_mini");
  std::map<std::string, torch::Tensor> before;
  for (const auto& item : model->named_parameters()) before[item.key()] = item.value().clone();
  apply_quant_spec(*model, spec_from("{weight_quant: int8, quant: {lsq: true, activation: lsq}}"));
  apply_quant_spec(*model, spec_from("{weight_quant: ternary, quant: {learnable_alpha: true, activation: absmax_token}}"));
  const auto parameters = model->named_parameters();
  CHECK(parameters.size() == before.size());
  for (const auto& item : parameters) {
    CAPTURE(item.key());
    CHECK(torch::equal(item.value(), before.at(item.key())));
  }
  // Learnable α live beside the model's parameters, not among them: one per quantized layer.
  const auto alphas = quantizer_parameters(*model);
  CHECK(alphas.size() == quantizable_layers(*model).size());
  for (const auto& alpha : alphas) CHECK(alpha.requires_grad());
  CHECK_NOTHROW(models::load_weights(*model, timm_fixture("deit_mini.safetensors")));

  // A training step reaches both the latent weights and the α.
  model->train();
  const auto input = read_safetensors(timm_fixture("deit_mini.io.safetensors")).tensors.at("input");
  model->forward(input).logsumexp(1).sum().backward();
  CHECK(model->named_parameters()["blocks.0.attn.qkv.weight"].grad().abs().sum().item<double>() > 0);
  for (const auto& alpha : alphas) CHECK(alpha.grad().defined());

  // With 8-bit LSQ inputs the steps join the optimizer's list: α and one step per linear.
  apply_quant_spec(*model, spec_from("{weight_quant: ternary, quant: {learnable_alpha: true, activation: lsq}}"));
  CHECK(quantizer_parameters(*model).size() == 2 * quantizable_layers(*model).size() - 1);  // the patch embedding is a conv
}

TEST_CASE("SkipMatrixInit leaves matrices unwritten while it lives, and only then", "[quant]") {
  // Initialisation draws from the generator: an unchanged generator shows nothing was written.
  const auto build_layers = [] {
    torch::nn::Sequential layers(QuantLinear(64, 32), QuantConv2d(QuantConv2dOptions(3, 8, 4).stride(4)));
    models::init_linears_like_timm(*layers);
  };
  torch::manual_seed(0);
  const auto undisturbed = torch::rand({4});
  torch::manual_seed(0);
  {
    SkipMatrixInit skip;
    { SkipMatrixInit nested; }
    CHECK(matrix_init_skipped());
    build_layers();
  }
  CHECK_FALSE(matrix_init_skipped());
  CHECK(torch::equal(torch::rand({4}), undisturbed));
  torch::manual_seed(0);
  build_layers();
  CHECK_FALSE(torch::equal(torch::rand({4}), undisturbed));
}

TEST_CASE("Ternary diagnostics report zeros, the α range and the flip rate", "[quant]") {
  auto model = fixture_model("deit_mini");
  apply_quant_spec(*model, spec_from("{weight_quant: ternary, quant: {keep_first_last: true}}"));
  TernaryDiagnostics diagnostics;
  const auto first = diagnostics.measure(*model);
  REQUIRE(first.size() == quantizable_layers(*model).size() - 2);
  CHECK(first[0].layer == "blocks.0.attn.qkv");
  const auto weight = model->named_parameters()["blocks.0.attn.qkv.weight"];
  const auto reference = ternarize(weight, 0.7, Granularity::kChannel);
  CHECK(first[0].zero_fraction == Approx((reference.codes == 0).to(torch::kDouble).mean().item<double>()));
  CHECK(first[0].alpha_min == Approx(reference.alpha.min().item<double>()));
  CHECK(first[0].alpha_max == Approx(reference.alpha.max().item<double>()));
  CHECK(first[0].zero_fraction > 0.3);
  CHECK(first[0].zero_fraction < 0.7);
  for (const auto& stats : first) CHECK_FALSE(stats.flip_rate.has_value());

  // Negating a matrix flips every non-zero code and leaves the others; nothing else changes.
  {
    torch::NoGradGuard no_grad;
    weight.neg_();
  }
  const auto second = diagnostics.measure(*model);
  REQUIRE(second[0].flip_rate.has_value());
  CHECK(*second[0].flip_rate == Approx(1 - first[0].zero_fraction));
  CHECK(*second[1].flip_rate == 0);
  CHECK(*diagnostics.measure(*model)[0].flip_rate == 0);
}
