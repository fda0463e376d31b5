// Backbones against timm: golden outputs, parameter counts, weight loading and round trips.
#include <catch2/catch.hpp>

#include <algorithm>

#include "models/pretrained.h"
#include "models/registry.h"
#include "tervit/kernels/model_fields.h"
#include "test_helpers.h"
#include "tervit/core/error.h"
#include "tervit/libtorch/safetensors.h"

using namespace tervit;
using namespace tervit::models;
using tervit::testing::relative_error;
using tervit::testing::fixture_model;
using tervit::testing::timm_fixture;

namespace {

int64_t parameter_count(const VisionModel& model) {
  int64_t count = 0;
  for (const auto& p : model->parameters()) count += p.numel();
  return count;
}

}  // namespace

TEST_CASE("DeiT and Swin reproduce timm's logits and pre-logits", "[models][golden]") {
  const auto name = GENERATE(as<std::string>{}, "deit_mini", "swin_mini");
  CAPTURE(name);
  const auto io = read_safetensors(timm_fixture(name + ".io.safetensors")).tensors;
  auto model = fixture_model(name);
  torch::NoGradGuard no_grad;
  const auto features = model->forward_features(io.at("input"));
  const double logits_error = relative_error(model->forward_head(features), io.at("logits"));
  const double pre_logits_error = relative_error(model->forward_head(features, /*pre_logits=*/true), io.at("pre_logits"));
  CHECK(logits_error < 1e-4);
  CHECK(pre_logits_error < 1e-4);
  // forward reads head_features (DeiT: the last block for the class token alone).
  CHECK(relative_error(model->forward(io.at("input")), io.at("logits")) < 1e-4);
}

TEST_CASE("Parameter counts equal timm's for the named variants", "[models][slow]") {
  // Counts printed by timm 0.9.16 (../shared/fixtures/timm/README.md); the distilled variants add a
  // token, a position and a second head: 2C + (C + 1) * 1000.
  const std::vector<std::pair<std::string, int64_t>> expected{
      {"deit_tiny_patch16_224", 5717416},         {"deit_small_patch16_224", 22050664},
      {"deit_base_patch16_224", 86567656},        {"deit_tiny_distilled_patch16_224", 5910800},
      {"deit_small_distilled_patch16_224", 22436432}, {"deit_base_distilled_patch16_224", 87338192},
      {"swin_tiny_patch4_window7_224", 28288354}, {"swin_small_patch4_window7_224", 49606258},
      {"swin_base_patch4_window7_224", 87768224},
  };
  REQUIRE(model_names().size() == expected.size());
  for (const auto& [name, count] : expected) {
    CAPTURE(name);
    CHECK(parameter_count(create_model(name)) == count);
  }
}

TEST_CASE("Named variants have timm's shapes", "[models]") {
  torch::NoGradGuard no_grad;
  auto deit = create_model("deit_tiny_patch16_224");
  deit->eval();
  const auto images = torch::randn({1, 3, 224, 224});
  const auto tokens = deit->forward_features(images);
  CHECK(tokens.sizes() == torch::IntArrayRef({1, 197, 192}));
  CHECK(deit->forward_head(tokens).sizes() == torch::IntArrayRef({1, 1000}));

  auto swin = create_model("swin_tiny_patch4_window7_224");
  swin->eval();
  const auto feature_map = swin->forward_features(images);
  CHECK(feature_map.sizes() == torch::IntArrayRef({1, 7, 7, 768}));
  CHECK(swin->forward_head(feature_map, true).sizes() == torch::IntArrayRef({1, 768}));
}

TEST_CASE("The distilled DeiT averages its two heads in eval and keeps them apart for training", "[models]") {
  auto model = create_model(model_architecture("deit", YAML::Load("{img_size: 32, patch_size: 8, embed_dim: 24, depth: 1, num_heads: 2, num_classes: 5, distilled: true}")));
  model->eval();
  auto* deit = dynamic_cast<DeiTImpl*>(model.get());
  REQUIRE(deit != nullptr);
  torch::NoGradGuard no_grad;
  const auto features = deit->forward_features(torch::randn({2, 3, 32, 32}));
  const auto [cls_logits, dist_logits] = deit->forward_head_distilled(features);
  CHECK(torch::allclose(deit->forward_head(features), (cls_logits + dist_logits) / 2));
  CHECK_FALSE(torch::allclose(cls_logits, dist_logits));
  CHECK(model->classifier_prefixes() == std::vector<std::string>{"head.", "head_dist."});
}

TEST_CASE("A save/load round trip gives identical outputs for every family", "[models]") {
  const auto name = GENERATE(as<std::string>{}, "deit_mini", "swin_mini");
  CAPTURE(name);
  testing::TempDir dir;
  const auto weights = read_safetensors(timm_fixture(name + ".safetensors"));
  const auto architecture = model_architecture(weights.metadata.at("family"), YAML::Load(weights.metadata.at("config")));
  auto original = create_model(architecture);
  original->eval();
  write_safetensors(dir / "model.safetensors", module_state_dict(*original));

  torch::manual_seed(1234);  // the copy starts from other random weights
  auto copy = create_model(architecture);
  copy->eval();
  load_weights(*copy, dir / "model.safetensors");
  torch::NoGradGuard no_grad;
  const auto images = torch::randn({2, 3, original->img_size(), original->img_size()});
  CHECK(torch::equal(original->forward(images), copy->forward(images)));
}

TEST_CASE("Official Swin checkpoints load after remapping to timm's layout", "[models]") {
  // Rebuild the official layout from timm's: downsample at the end of the previous stage, head.*,
  // persisted relative_position_index.
  auto tensors = read_safetensors(timm_fixture("swin_mini.safetensors")).tensors;
  TensorMap official;
  for (const auto& [name, tensor] : tensors) {
    std::string key = name;
    if (key.rfind("layers.1.downsample", 0) == 0) key.replace(0, 8, "layers.0");
    if (key.rfind("layers.2.downsample", 0) == 0) key.replace(0, 8, "layers.1");
    if (key.rfind("head.fc.", 0) == 0) key = "head." + key.substr(8);
    official.emplace(key, tensor);
  }
  official.emplace("layers.0.blocks.0.attn.relative_position_index", torch::zeros({49, 49}, torch::kLong));
  REQUIRE(official.count("layers.0.downsample.reduction.weight"));
  REQUIRE(official.count("head.weight"));

  const auto remapped = remap_to_timm(official);
  REQUIRE(remapped.size() == tensors.size());
  for (const auto& [name, tensor] : tensors) {
    CAPTURE(name);
    REQUIRE(remapped.count(name));
    CHECK(torch::equal(remapped.at(name), tensor));
  }
  // timm-layout state dicts pass through untouched.
  CHECK(remap_to_timm(tensors).size() == tensors.size());
}

TEST_CASE("Weights of another model are rejected naming the first mismatched tensor", "[models]") {
  auto wider = create_model(model_architecture("deit", YAML::Load("{img_size: 64, patch_size: 16, embed_dim: 96, depth: 2, num_heads: 3, num_classes: 10}")));
  try {
    load_weights(*wider, timm_fixture("deit_mini.safetensors"));
    FAIL("loading deit_mini weights into a wider model must fail");
  } catch (const Error& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Catch::Contains("deit_mini.safetensors"));
    CHECK_THAT(message, Catch::Contains("[96]") || Catch::Contains("96, "));
    CHECK_THAT(message, Catch::Contains("48"));
  }
  auto swin = create_model("swin_tiny_patch4_window7_224");
  CHECK_THROWS_WITH(load_weights(*swin, timm_fixture("deit_mini.safetensors")), Catch::Contains("cls_token"));
}

TEST_CASE("A classifier of another class count is dropped on request, the rest loads", "[models]") {
  auto model = create_model(model_architecture("deit", YAML::Load("{img_size: 64, patch_size: 16, embed_dim: 48, depth: 2, num_heads: 3, num_classes: 7}")));
  CHECK_THROWS_AS(load_weights(*model, timm_fixture("deit_mini.safetensors")), Error);
  WeightsOptions options;
  options.drop_mismatched_head = true;
  const auto report = load_weights(*model, timm_fixture("deit_mini.safetensors"), options);
  CHECK(report.dropped == std::vector<std::string>{"head.bias", "head.weight"});
  const auto reference = read_safetensors(timm_fixture("deit_mini.safetensors")).tensors;
  CHECK(torch::equal(module_state_dict(*model).at("pos_embed"), reference.at("pos_embed")));
}

TEST_CASE("Unknown model names and architecture fields are errors that help", "[models]") {
  CHECK_THROWS_WITH(create_model("deit_tiny"), Catch::Contains("deit_tiny_patch16_224") && Catch::Contains("swin_base_patch4_window7_224"));
  CHECK_THROWS_WITH(model_architecture("swin", YAML::Load("{window: 7}")), Catch::Contains("model.window") && Catch::Contains("window_size"));
  CHECK_THROWS_WITH(model_architecture("deit", YAML::Load("{depth: deep}")), Catch::Contains("model.depth"));
  CHECK_THROWS_WITH(create_model(model_architecture("swin", YAML::Load("{img_size: 100}"))), Catch::Contains("patch"));
}

TEST_CASE("One field list per family: YAML overrides, JSON metadata and the runtime's reader agree", "[models]") {
  for (const std::string family : {"deit", "swin"}) {
    CAPTURE(family);
    const auto architecture = model_architecture(family);
    const auto* shared = tervit::kernels::model_fields(family);
    REQUIRE(shared != nullptr);
    std::vector<std::string> listed;
    for (const auto& field : *shared) listed.push_back(field.name);
    std::sort(listed.begin(), listed.end());
    auto overridable = architecture_fields(architecture);
    std::sort(overridable.begin(), overridable.end());
    CHECK(overridable == listed);
    const auto json = architecture_json(architecture);
    std::vector<std::string> recorded;
    for (const auto& [name, value] : json.items()) recorded.push_back(name);
    CHECK(recorded == listed);  // JSON objects keep their keys sorted
  }
  // The same rule, the same words, in the config check and in the runtime's reader.
  CHECK_THROWS_WITH(model_architecture("deit", YAML::Load("{mlp_ratio: 0}")), Catch::Contains("model.mlp_ratio: 0.0 is out of range, expected a number above 0"));
  CHECK_THROWS_WITH(model_architecture("swin", YAML::Load("{depths: [2, 2, 2, 2, 2, 2, 2, 2, 2]}")),
                    Catch::Contains("model.depths: [2,2,2,2,2,2,2,2,2] is out of range, expected 1 to 8 non-negative integers"));
  CHECK_THROWS_WITH(model_architecture("deit", YAML::Load("{drop_rate: 1.5}")), Catch::Contains("model.drop_rate: 1.5 is out of range, expected a number between 0 and 1"));
  CHECK(tervit::kernels::field_violation(tervit::kernels::FieldRule::kAboveZero, 0.0) == "a number above 0");
  CHECK(tervit::kernels::field_violation(tervit::kernels::FieldRule::kPositive, 3).empty());
  CHECK(tervit::kernels::model_fields("resnet") == nullptr);
}

TEST_CASE("Swin blocks follow timm's window and shift rules", "[models]") {
  auto model = create_model(model_architecture("swin", YAML::Load("{img_size: 112, embed_dim: 24, depths: [2, 2, 2], num_heads: [1, 2, 4]}")));
  std::vector<std::pair<int64_t, int64_t>> window_shift;
  for (const auto& module : model->modules())
    if (const auto* block = dynamic_cast<SwinBlockImpl*>(module.get())) window_shift.emplace_back(block->window_size(), block->shift_size());
  // 28x28 and 14x14 maps: windows of 7, every second block shifted by 3; 7x7: one unshifted window.
  const std::vector<std::pair<int64_t, int64_t>> expected{{7, 0}, {7, 3}, {7, 0}, {7, 3}, {7, 0}, {7, 0}};
  CHECK(window_shift == expected);
}

TEST_CASE("Drop path is identity in eval and drops whole samples in training", "[models]") {
  DropPath drop_path(0.5);
  const auto x = torch::ones({64, 4, 8});
  drop_path->eval();
  CHECK(torch::equal(drop_path(x), x));
  drop_path->train();
  torch::manual_seed(0);
  const auto y = drop_path(x);
  const auto per_sample = y.flatten(1);
  const auto kept = (per_sample.select(1, 0) != 0);
  // Each sample is all zeros or all 1/keep_prob.
  CHECK(torch::equal(per_sample.amax(1), per_sample.amin(1)));
  CHECK(torch::all(per_sample.select(1, 0).masked_select(kept) == 2.0).item<bool>());
  const auto kept_count = kept.sum().item<int64_t>();
  CHECK(kept_count > 16);
  CHECK(kept_count < 48);
}
