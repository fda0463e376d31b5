// tervit-export: from float weights with quantizer options, from a checkpoint folder, and its errors.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "test_deploy_helpers.h"
#include "models/model_metadata.h"
#include "tervit/deploy/packed_model.h"
#include "tervit/quant/quant_layers.h"
#include "tervit/quant/quantizer_state.h"

using namespace tervit;
using tervit::testing::TempDir;
using tervit::testing::timm_fixture;

TEST_CASE("tervit-export packs float weights and reports the file's real size", "[deploy][cli]") {
  TempDir dir;
  {
    std::ofstream names(dir / "classes.txt");
    for (int i = 0; i < 10; ++i) names << "class" << i << "\n";
  }
  const auto out = dir / "deit.packed.safetensors";
  const auto run = testing::run(dir, "tervit-export", "--threads 1 --weights " + timm_fixture("deit_mini.safetensors").string() +
                                                          " --out " + out.string() + " --bits 1.6 --granularity layer --class-names " +
                                                          (dir / "classes.txt").string());
  REQUIRE(run.exit_code == 0);
  const auto summary = nlohmann::json::parse(run.out);
  CHECK(summary["bytes"] == std::filesystem::file_size(out));
  CHECK(summary["bits"] == "1.6");
  CHECK(summary["packed_layers"] == 10);
  CHECK(summary["float_layers"] == 0);
  const auto packed = deploy::load_packed_model(out, kernels::PackedMode::kExact);
  CHECK(packed.bits == kernels::PackedBits::k1_6);
  CHECK(packed.quant.granularity() == quant::Granularity::kLayer);
  CHECK(packed.class_names.at(9) == "class9");
}

TEST_CASE("tervit-export packs a checkpoint folder with the quantizer settings it records", "[deploy][cli]") {
  TempDir dir;
  const auto spec = quant::QuantSpec().weight_quant(quant::WeightQuant::kTernary).delta(0.6).exclude({"head.*"});
  auto weights = read_safetensors(timm_fixture("swin_mini.safetensors"));
  // As the trainer writes it: the stage config's weight_quant and quant map.
  weights.metadata["quant"] = R"({"weight_quant": "ternary", "quant": {"delta": 0.6, "exclude": ["head.*"]}})";
  std::filesystem::create_directory(dir / "run");
  write_safetensors(dir / "run" / "model.safetensors", weights.tensors, weights.metadata);
  std::ofstream(dir / "run" / "config.yaml") << "data: {crop_pct: 0.95, interpolation: bilinear, mean: [0.5, 0.5, 0.5], "
                                                "std: [0.25, 0.25, 0.25], batch_size: 8}\n";
  const auto out = dir / "swin.packed.safetensors";
  const auto run = testing::run(dir, "tervit-export", "--threads 1 --checkpoint " + (dir / "run").string() + " --out " + out.string());
  REQUIRE(run.exit_code == 0);
  const auto file = read_safetensors(out);
  CHECK(file.tensors.count("head.fc.weight"));  // excluded: stored in float
  CHECK_FALSE(file.tensors.count("head.fc.weight.packed"));
  const auto packed = deploy::load_packed_model(out, kernels::PackedMode::kExact);
  CHECK(quant::quant_spec_json(packed.quant) == quant::quant_spec_json(spec));
  // The run's eval preprocessing travels with the model; the rest of its data section does not.
  CHECK(packed.preprocess == nlohmann::json::parse(
                                 R"({"crop_pct": 0.95, "interpolation": "bilinear", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]})"));
  // The same values as ternarizing the fixture in process.
  const auto fixture = testing::quantized_fixture("swin_mini", spec);
  const auto expected = deploy::pack_model(*fixture.model, fixture.architecture, spec, {});
  CHECK(torch::equal(file.tensors.at("layers.1.blocks.0.mlp.fc1.weight.packed"),
                     expected.tensors.at("layers.1.blocks.0.mlp.fc1.weight.packed")));

  const auto conflicting = testing::run(dir, "tervit-export", "--checkpoint " + (dir / "run").string() + " --out " + out.string() + " --delta 0.5");
  CHECK(conflicting.exit_code == 2);
  CHECK_THAT(conflicting.err, Catch::Contains("drop the quantizer options"));
}

TEST_CASE("tervit-export packs a checkpoint's trained alpha from its quantizer state", "[deploy][cli]") {
  TempDir dir;
  const auto spec = quant::QuantSpec().weight_quant(quant::WeightQuant::kTernary).learnable_alpha(true);
  const auto fixture = testing::quantized_fixture("deit_mini", spec);
  {
    torch::NoGradGuard no_grad;
    for (auto& alpha : quant::quantizer_parameters(*fixture.model)) alpha.fill_(0.25);  // "trained" values
  }
  auto weights = read_safetensors(timm_fixture("deit_mini.safetensors"));
  weights.metadata["quant"] = quant::quant_spec_json(spec);
  std::filesystem::create_directory(dir / "run");
  write_safetensors(dir / "run" / "model.safetensors", weights.tensors, weights.metadata);
  const auto out = (dir / "packed.safetensors").string();
  const auto without_alpha = testing::run(dir, "tervit-export", "--checkpoint " + (dir / "run").string() + " --out " + out);
  CHECK(without_alpha.exit_code == 2);
  CHECK_THAT(without_alpha.err, Catch::Contains("learnable α needs the trained values"));

  write_safetensors(dir / "run" / "quantizers.safetensors", quant::quantizer_state(*fixture.model));
  REQUIRE(testing::run(dir, "tervit-export", "--checkpoint " + (dir / "run").string() + " --out " + out).exit_code == 0);
  CHECK(torch::equal(read_safetensors(out).tensors.at("blocks.1.mlp.fc1.alpha"), torch::full({192}, 0.25, torch::kFloat16)));
}

TEST_CASE("tervit-export refuses what it cannot pack", "[deploy][cli]") {
  TempDir dir;
  const auto weights = " --weights " + timm_fixture("deit_mini.safetensors").string() + " --out " + (dir / "x").string();
  const auto int8 = testing::run(dir, "tervit-export", weights + " --weight-quant int8");
  CHECK(int8.exit_code == 2);
  CHECK_THAT(int8.err, Catch::Contains("packs ternary weights"));
  const auto bits = testing::run(dir, "tervit-export", weights + " --bits 3");
  CHECK(bits.exit_code == 2);
  CHECK_THAT(bits.err, Catch::Contains("expected one of 2, 1.6"));
  const auto none = testing::run(dir, "tervit-export", "--out " + (dir / "x").string());
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, Catch::Contains("one of --checkpoint DIR, --weights FILE or --packed FILE"));
  CHECK_FALSE(std::filesystem::exists(dir / "x"));
}
