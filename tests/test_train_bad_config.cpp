// Malformed configs through tervit-train, one table row each: every one must exit with code 2 and a
// message naming the offending key (or option, or file) before anything is written.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "test_helpers.h"
#include "test_train_helpers.h"

namespace fs = std::filesystem;
using tervit::testing::TempDir;

namespace {

struct BadConfig {
  std::string args;                   // appended to --config run.yaml --output out (may replace --config)
  std::vector<std::string> expected;  // each must appear in the error message
};

// `stage` in a one-stage list, e.g. stage("epochs: -1") is --set 'stages=[{name: s, epochs: -1}]'.
std::string stage(const std::string& keys) { return "--set 'stages=[{name: s, " + keys + "}]'"; }

}  // namespace

TEST_CASE("Malformed configs exit with code 2, name the key and write nothing", "[cli][train][config][slow]") {
  TempDir dir;
  const auto config = tervit::testing::write_train_config(dir);
  const auto a_file = dir / "a_file.txt";
  std::ofstream(a_file) << "not a folder\n";
  std::ofstream(dir / "not_yaml.yaml") << "model: {name: deit\nstages: [\n";
  std::ofstream(dir / "a_list.yaml") << "- model\n- stages\n";
  std::ofstream(dir / "stage_not_map.yaml") << tervit::testing::read_text(config) << "  - just a name\n";

  const std::vector<BadConfig> table{
      // Types.
      {"--set data.batch_size=many", {"data.batch_size", "'many'", "an integer"}},
      {"--set data.batch_size=2.5", {"data.batch_size", "an integer"}},
      {"--set data.std=grey", {"data.std", "a list of numbers"}},
      {"--set model.architecture=5", {"model.architecture", "a map"}},
      {"--set optimizer=0.1", {"optimizer", "section"}},
      {"--set stages=fp", {"stages", "a list"}},
      {"--set 'stages=[fp]'", {"stages[0]", "a map"}},
      {"--config " + (dir / "stage_not_map.yaml").string(), {"stages[2]", "a map"}},
      {stage("epochs: 1, reset_optimizer: maybe"), {"stages[0].reset_optimizer", "true or false"}},
      {"--set model.architecture.embed_dim=wide", {"embed_dim", "wide"}},
      // Unknown keys and values, with a suggestion where one is close.
      {"--set data.batch_sise=8", {"data.batch_sise", "unknown key", "batch_size"}},
      {"--set trainer.epochs=3", {"trainer", "unknown key"}},
      {stage("epochs: 1, lr_max: 1"), {"stages[0].lr_max", "unknown key"}},
      {"--set model.architecture.depht=2", {"depht", "unknown architecture field", "depth"}},
      {"--set model.name=deit_tiniest", {"model.name", "deit_tiny"}},
      {"--set data.interpolation=cubic", {"data.interpolation", "'cubic'", "bicubic"}},
      {"--set runtime.amp=fp8", {"runtime.amp", "'fp8'"}},
      {"--set checkpoint.on_write_error=retry", {"checkpoint.on_write_error", "'retry'", "continue"}},
      {stage("epochs: 1, weight_quant: binary"), {"stages[0].weight_quant", "binary"}},
      {stage("epochs: 1, weight_quant: ternary, quant: {granularity: row}"), {"stages[0].quant.granularity", "row"}},
      {stage("epochs: 1, weight_quant: ternary, quant: {delta: -1}"), {"stages[0].quant.delta"}},
      // Stage lists.
      {"--set 'stages=[]'", {"stages", "empty"}},
      {stage("epochs: -1"), {"stages[0].epochs", "out of range"}},
      {stage("epochs: 0"), {"stages[0].epochs", "out of range"}},
      {"--set 'stages=[{name: s}]'", {"stages[0].epochs", "required"}},
      {"--set 'stages=[{name: s, epochs: 1}, {name: s, epochs: 2}]'", {"stages[1].name", "earlier stage"}},
      {"--set 'stages=[{name: \"a b\", epochs: 1}]'", {"stages[0].name", "letters"}},
      // Out-of-range values.
      {"--set data.batch_size=0", {"data.batch_size", "out of range"}},
      {"--set data.crop_pct=1.5", {"data.crop_pct", "out of range"}},
      // NaN passes every comparison, and no key takes an infinity.
      {"--set data.crop_pct=.nan", {"data.crop_pct", "not a finite number"}},
      {"--set augment.hflip=.nan", {"augment.hflip", "not a finite number"}},
      {stage("epochs: 1, lr: .inf"), {"stages[0].lr", "not a finite number"}},
      {"--set 'data.std=[0.2, .nan, 0.2]'", {"data.std", "not a finite number"}},
      {"--set data.workers=-1", {"data.workers", "out of range"}},
      // Sizes and counts far beyond any run, refused before they overflow an int or exhaust memory.
      {"--set data.workers=3000000000", {"data.workers", "between 0 and 1024"}},
      {"--set runtime.threads=3000000000", {"runtime.threads", "between 0 and 1024"}},
      {"--set data.repeated_aug=100000000000", {"data.repeated_aug", "out of range"}},
      {"--set data.eval_batch_size=9223372036854775807", {"data.eval_batch_size", "between 0 and 1048576"}},
      {"--set runtime.dist_timeout_s=1e30", {"runtime.dist_timeout_s", "out of range"}},
      {stage("epochs: 1, lr: 1e300"), {"stages[0].lr", "float32's range"}},
      {"--set 'optimizer.betas=[0.9, 1.5]'", {"optimizer.betas", "[0, 1)"}},
      {"--set data.crop_pct=0.001", {"data.crop_pct", "between 0.05 and 1"}},
      {"--set model.architecture.in_chans=1", {"model.architecture.in_chans", "3 channels"}},
      {"--set 'stages=[{name: " + std::string(5000, 'a') + ", epochs: 1}]'", {"stages[0].name", "longer than 64", "(5000 characters)"}},
      {"--set data.batch_size=", {"--set data.batch_size=", "no value"}},
      {"--set data.root=" + std::string(5000, 'a'), {"data.train_split", "File name too long", "characters)"}},
      {"--set data.mean=[0.5,0.5]", {"data.mean", "3 values"}},
      {"--set augment.hflip=2", {"augment.hflip", "out of range"}},
      {"--set augment.scale=[1.0,0.5]", {"augment.scale", "[low, high]"}},
      {"--set optimizer.betas=[0.9]", {"optimizer.betas", "[low, high]"}},
      {stage("epochs: 1, lr: -0.1"), {"stages[0].lr", "out of range"}},
      {"--set checkpoint.keep_last=0", {"checkpoint.keep_last", "out of range"}},
      {"--set logging.every_steps=0", {"logging.every_steps", "out of range"}},
      {"--set runtime.seed=-3", {"runtime.seed", "out of range"}},
      {"--set model.architecture.embed_dim=-8", {"embed_dim", "out of range"}},
      {"--set model.architecture.patch_size=0", {"patch_size", "out of range"}},
      {"--set model.architecture.drop_path_rate=1.5", {"drop_path_rate", "out of range"}},
      {"--set model.architecture.num_heads=5", {"embed_dim", "num_heads"}},
      // A model without classes builds (timm allows it), and the data check names the mismatch: no SIGFPE.
      {"--set model.architecture.num_classes=0", {"num_classes 0"}},
      {"--set data.batch_size=15", {"data.batch_size", "even"}},
      // Files and folders that are missing or of the wrong kind.
      {"--set data.root=" + (dir / "nowhere").string(), {"data.train_split", "nowhere", "does not exist"}},
      {"--set data.root=" + a_file.string(), {"data.train_split", "a_file.txt"}},
      {"--set data.val_split=" + a_file.string(), {"data.val_split", "is not a folder"}},
      {"--set data.train_split=" + a_file.string(), {"data.train_split", "is not a folder"}},
      {stage("epochs: 1, init: " + (dir / "missing.safetensors").string()), {"stages[0].init", "does not exist"}},
      {"--set model.weights=" + (dir / "missing.safetensors").string(), {"model.weights", "missing.safetensors"}},
      {"--set distill.type=soft", {"distill.teacher_weights"}},
      {"--set distill.type=soft --set distill.teacher_weights=" + a_file.string(), {"distill.teacher_weights", "a_file.txt"}},
      {"--config " + (dir / "missing.yaml").string(), {"missing.yaml", "cannot open"}},
      {"--config " + dir.path().string(), {dir.path().string(), "folder"}},
      {"--config " + (dir / "not_yaml.yaml").string(), {"not_yaml.yaml", "invalid YAML", "line"}},
      {"--config " + (dir / "a_list.yaml").string(), {"a_list.yaml", "a map of sections"}},
      {"--resume " + (dir / "no_checkpoint").string(), {"no_checkpoint", "not a checkpoint folder"}},
      // --set syntax.
      {"--set data.batch_size", {"--set 'data.batch_size'", "key=value"}},
      {"--set =8", {"--set '=8'", "key=value"}},
      {"--set 'data.batch_size=[1'", {"--set data.batch_size", "cannot parse"}},
      {"--set data.batch_size.per_gpu=8", {"--set data.batch_size.per_gpu", "'batch_size' is not a section"}},
  };
  REQUIRE(table.size() >= 30);
  const auto out = dir / "out";
  for (const auto& row : table) {
    const auto args = (row.args.rfind("--config ", 0) == 0 ? "" : "--config " + config + " ") + row.args;
    const auto result = tervit::testing::run(dir, "tervit-train", args + " --output " + out.string());
    INFO(args << "\n" << result.err);
    CHECK(result.exit_code == 2);
    for (const auto& text : row.expected) CHECK_THAT(result.err, Catch::Contains(text));
    CHECK_FALSE(fs::exists(out));
  }
  // An --output that is a file is refused and left as it was.
  const auto result = tervit::testing::run(dir, "tervit-train", "--config " + config + " --output " + a_file.string());
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("--output") && Catch::Contains("is a file"));
  CHECK(tervit::testing::read_text(a_file) == "not a folder\n");
}
