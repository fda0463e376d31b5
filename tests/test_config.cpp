#include <catch2/catch.hpp>

#include <fstream>

#include "test_helpers.h"
#include "tervit/core/closest_match.h"
#include "tervit/core/config.h"
#include "tervit/core/error.h"

using namespace tervit;

namespace {
const char* kMinimal = R"(
model:
  name: deit_tiny_patch16_224
  architecture: {img_size: 28, patch_size: 4, in_chans: 1, num_classes: 10}
stages:
  - {name: fp, epochs: 2}
  - {name: ternary, epochs: 1, weight_quant: ternary, lr: 1e-4}
)";

Config resolve(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  auto root = YAML::Load(yaml);
  for (const auto& o : overrides) apply_override(root, o);
  return resolve_config(root);
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
  CHECK(config.get<std::string>("model.name") == "deit_tiny_patch16_224");
  CHECK(config.get<int>("data.batch_size") == 64);
  CHECK(config.get<std::string>("runtime.device") == "auto");
  CHECK(config.node("stages").size() == 2);
  CHECK(config.node("stages")[0]["weight_quant"].as<std::string>() == "fp");
  CHECK(config.node("stages")[1]["lr"].as<double>() == Approx(1e-4));
  CHECK(config.node("stages")[0]["lr"].as<double>() == Approx(5e-4));
  // The resolved tree is itself a valid config that resolves to the same thing.
  CHECK(resolve(config.dump()).dump() == config.dump());
}

TEST_CASE("Overrides given with --set keep YAML types and create sections", "[config]") {
  const auto config = resolve(kMinimal, {"data.batch_size=128", "runtime.threads=2", "model.architecture.depth=3", "data.mean=[0.5, 0.5, 0.5]"});
  CHECK(config.get<int>("data.batch_size") == 128);
  CHECK(config.get<int>("runtime.threads") == 2);
  CHECK(config.node("model.architecture")["depth"].as<int>() == 3);
  CHECK(config.node("data.mean")[2].as<double>() == Approx(0.5));
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
  CHECK_THROWS_WITH(load_config(dir / "missing.yaml"), Catch::Contains("missing.yaml"));
  std::ofstream(dir / "broken.yaml") << "model: [unclosed\n";
  CHECK_THROWS_WITH(load_config(dir / "broken.yaml"), Catch::Contains("broken.yaml") && Catch::Contains("line"));
  std::ofstream(dir / "bad.yaml") << kMinimal << "runtime: {seed: x}\n";
  CHECK_THROWS_WITH(load_config(dir / "bad.yaml"), Catch::Contains("bad.yaml") && Catch::Contains("runtime.seed"));
  std::ofstream(dir / "good.yaml") << kMinimal;
  CHECK(load_config(dir / "good.yaml", {"runtime.seed=7"}).get<int>("runtime.seed") == 7);
}

TEST_CASE("Every shipped config in configs/ is valid", "[config]") {
  size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(TERVIT_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    CAPTURE(entry.path().string());
    CHECK_NOTHROW(load_config(entry.path()));
    ++count;
  }
  CHECK(count >= 7);  // the demo and TerViT on DeiT-T/S/B and Swin-T/S/B
}
