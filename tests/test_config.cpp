#include <catch2/catch.hpp>

#include <fstream>

#include "test_helpers.h"
#include "tervit/core/closest_match.h"
#include "tervit/engine/run_config.h"
#include "tervit/core/error.h"

using namespace tervit;
using tervit::engine::load_run_config;
using tervit::engine::read_run_config;
using tervit::engine::RunConfig;

namespace {
const char* kMinimal = R"(
model:
  name: deit_tiny_patch16_224
  architecture: {img_size: 28, patch_size: 4, in_chans: 1, num_classes: 10}
stages:
  - {name: fp, epochs: 2}
  - {name: ternary, epochs: 1, weight_quant: ternary, lr: 1e-4}
)";

RunConfig resolve(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  auto root = YAML::Load(yaml);
  for (const auto& o : overrides) apply_override(root, o);
  return read_run_config(root);
}
}  // namespace

TEST_CASE("Suggestions find typos and shortened names", "[config]") {
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(closest_match("batch_sise", {"batch_size", "workers"}) == "batch_size");
  CHECK(closest_match("window", {"window_size", "embed_dim"}) == "window_size");
  CHECK(closest_match("zzz", {"batch_size", "workers"}).empty());
}

TEST_CASE("A valid config resolves with defaults filled in", "[config]") {
  const auto config = resolve(kMinimal);
  CHECK(config.model.name == "deit_tiny_patch16_224");
  CHECK(config.data.batch_size == 64);
  CHECK(config.data.interpolation == tervit::image::Interpolation::kBicubic);
  CHECK(config.runtime.device == "auto");
  CHECK(config.checkpoint.on_write_error == tervit::engine::WriteErrorPolicy::kStop);
  REQUIRE(config.stages.size() == 2);
  CHECK(config.stages[0].quant.weight_quant() == tervit::quant::WeightQuant::kFp);
  CHECK(config.stages[1].lr == Approx(1e-4));
  CHECK(config.stages[0].lr == Approx(5e-4));
  // The typed fields come from the resolved tree, defaults filled in, which the run folder records.
  CHECK(config.tree.get<int>("data.batch_size") == 64);
  CHECK(config.tree.node("stages")[0]["weight_quant"].as<std::string>() == "fp");
  // The resolved tree is itself a valid config that resolves to the same thing.
  CHECK(resolve(config.tree.dump()).tree.dump() == config.tree.dump());
}

TEST_CASE("Overrides given with --set keep YAML types and create sections", "[config]") {
  const auto config = resolve(kMinimal, {"data.batch_size=128", "runtime.threads=2", "model.architecture.depth=3", "data.mean=[0.5, 0.5, 0.5]"});
  CHECK(config.data.batch_size == 128);
  CHECK(config.runtime.threads == 2);
  CHECK(std::get<tervit::models::DeiTOptions>(config.model.architecture).depth() == 3);
  CHECK(config.model.architecture_overrides["depth"] == 3);
  CHECK(config.data.mean[2] == Approx(0.5));
  YAML::Node root = YAML::Load(kMinimal);
  CHECK_THROWS_WITH(apply_override(root, "data.batch_size"), Catch::Contains("key=value"));
}

TEST_CASE("Bad configs name the key, the value and what was expected", "[config]") {
  const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases{
      {{"data.batch_sise=3"}, {"data.batch_sise", "batch_size"}},
      {{"dat.root=x"}, {"dat", "data"}},
      {{"data.batch_size=many"}, {"data.batch_size", "many", "integer"}},
      {{"data.batch_size=0"}, {"data.batch_size", "out of range"}},
      {{"data.crop_pct=1.5"}, {"data.crop_pct", "1.5"}},
      {{"data.interpolation=bicubik"}, {"data.interpolation", "bicubic"}},
      {{"runtime.threads=-1"}, {"runtime.threads"}},
      {{"model.name=deit_tinyy_patch16_224"}, {"deit_tinyy_patch16_224", "deit_tiny_patch16_224"}},
      {{"model.architecture.windw=3"}, {"model.windw"}},
      {{"stages=[]"}, {"stages", "empty"}},
      {{"stages=[{name: a, epochs: -1}]"}, {"stages[0].epochs", "-1"}},
      {{"stages=[{name: a, epochs: 1, weight_quant: binary}]"}, {"stages[0].weight_quant", "binary", "ternary"}},
      {{"stages=[{name: a, epochs: 1, lrr: 0.1}]"}, {"stages[0].lrr", "lr"}},
      {{"stages=[{epochs: 1}]"}, {"stages[0].name", "required"}},
      {{"stages=[{name: a, epochs: 1, weight_quant: ternary, quant: {delta: -1}}]"}, {"stages[0].quant.delta"}},
      {{"stages=[{name: a, epochs: 1, quant: {granularty: layer}}]"}, {"stages[0].quant.granularty", "granularity"}},
      {{"data=3"}, {"data", "section"}},
      {{"data.mean=[0.5]"}, {"data.mean", "3 values"}},
  };
  for (const auto& [overrides, fragments] : cases) {
    CAPTURE(overrides);
    try {
      resolve(kMinimal, overrides);
      FAIL("config must be rejected");
    } catch (const Error& e) {
      for (const auto& fragment : fragments) CHECK_THAT(e.what(), Catch::Contains(fragment));
    }
  }
  CHECK_THROWS_WITH(resolve("stages: [{name: a, epochs: 1}]"), Catch::Contains("model.name") && Catch::Contains("required"));
}

TEST_CASE("Config files: errors name the file", "[config]") {
  testing::TempDir dir;
  CHECK_THROWS_WITH(load_run_config(dir / "missing.yaml"), Catch::Contains("missing.yaml"));
  std::ofstream(dir / "broken.yaml") << "model: [unclosed\n";
  CHECK_THROWS_WITH(load_run_config(dir / "broken.yaml"), Catch::Contains("broken.yaml") && Catch::Contains("line"));
  std::ofstream(dir / "bad.yaml") << kMinimal << "runtime: {seed: x}\n";
  CHECK_THROWS_WITH(load_run_config(dir / "bad.yaml"), Catch::Contains("bad.yaml") && Catch::Contains("runtime.seed"));
  std::ofstream(dir / "good.yaml") << kMinimal;
  CHECK(load_run_config(dir / "good.yaml", {"runtime.seed=7"}).runtime.seed == 7);
}

TEST_CASE("Every shipped config in configs/ is valid", "[config]") {
  size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::source_dir() / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    CAPTURE(entry.path().string());
    CHECK_NOTHROW(load_run_config(entry.path()));
    ++count;
  }
  CHECK(count >= 7);  // the demo and TerViT on DeiT-T/S/B and Swin-T/S/B
}
