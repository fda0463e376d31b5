#include <catch2/catch.hpp>
#include <sys/resource.h>

#include <csignal>
#include <nlohmann/json.hpp>

#include "test_helpers.h"
#include "tervit/core/error.h"
#include "tervit/engine/checkpoint.h"
#include "tervit/engine/losses.h"
#include "tervit/engine/optimizer_state.h"
#include "tervit/engine/trainer_state.h"

using namespace tervit;
using namespace tervit::engine;
using tervit::testing::TempDir;

namespace {

Checkpoint small_checkpoint(int64_t step, int64_t weight_count = 6) {
  Checkpoint c;
  c.model["head.weight"] = torch::arange(weight_count, torch::kFloat32);
  c.model_metadata = {{"family", "deit"}, {"stage", "fp"}};
  c.quantizers["head.weight_quantizer.0"] = torch::ones({2, 1});
  c.optimizer["group0.param0.step"] = torch::tensor(step, torch::kInt64);
  c.state.global_step = step;
  c.state.stage = 1;
  c.state.epoch = 2;
  c.state.batch = 3;
  c.state.best_top1 = 87.5;
  c.state.epoch_loss_sum = 0.1 + 0.2;  // not exactly representable: must survive the JSON round trip
  c.config_yaml = "model: {name: deit}\n";
  return c;
}

}  // namespace

TEST_CASE("Trainer state survives JSON exactly and malformed state is rejected by field", "[engine][checkpoint]") {
  TrainerState state;
  state.stage = 2;
  state.global_step = 123456789;
  state.epoch_loss_sum = 1.0 / 3.0;
  state.interval_loss_sum = 0.1 + 0.2;
  state.best_top1 = -1;
  state.world_size = 4;
  const auto parsed = parse_trainer_state(trainer_state_json(state), "state.json");
  CHECK(parsed.stage == 2);
  CHECK(parsed.global_step == 123456789);
  CHECK(parsed.epoch_loss_sum == state.epoch_loss_sum);  // bit-exact
  CHECK(parsed.interval_loss_sum == state.interval_loss_sum);
  CHECK(parsed.best_top1 == -1);
  CHECK(parsed.world_size == 4);

  const auto text = trainer_state_json(state);
  CHECK_THROWS_WITH(parse_trainer_state(text.substr(0, text.size() / 2), "s.json"), Catch::Contains("s.json") && Catch::Contains("JSON"));
  auto json = nlohmann::json::parse(text);
  json.erase("batch");
  CHECK_THROWS_WITH(parse_trainer_state(json.dump(), "s.json"), Catch::Contains("'batch'"));
  json = nlohmann::json::parse(text);
  json["epoch"] = "two";
  CHECK_THROWS_WITH(parse_trainer_state(json.dump(), "s.json"), Catch::Contains("'epoch'"));
  json["epoch"] = -4;
  CHECK_THROWS_WITH(parse_trainer_state(json.dump(), "s.json"), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(parse_trainer_state("[1, 2]", "s.json"), Catch::Contains("object"));
  // Checkpoints written before data-parallel training: one process.
  json = nlohmann::json::parse(text);
  json.erase("world_size");
  CHECK(parse_trainer_state(json.dump(), "s.json").world_size == 1);
  json["world_size"] = 0;
  CHECK_THROWS_WITH(parse_trainer_state(json.dump(), "s.json"), Catch::Contains("'world_size'"));
}

TEST_CASE("Checkpoints are written whole, found in step order, pruned, and partial ones ignored", "[engine][checkpoint]") {
  TempDir dir;
  const auto checkpoints = dir.path() / "checkpoints";
  for (int64_t step : {5, 10, 20}) write_checkpoint(checkpoints / checkpoint_name(step), small_checkpoint(step));
  CHECK(checkpoint_name(20) == "step-000000020");
  CHECK_THROWS_WITH(write_checkpoint(checkpoints / checkpoint_name(20), small_checkpoint(20)), Catch::Contains("exists"));

  // What a kill leaves behind: a hidden temporary folder, or a folder without its trainer state.
  std::filesystem::create_directories(checkpoints / ".step-000000030.tmp.123.0");
  std::filesystem::create_directories(checkpoints / "step-000000040");
  auto found = step_checkpoints(checkpoints);
  REQUIRE(found.size() == 3);
  CHECK(found.back().filename() == "step-000000020");

  const auto read = read_checkpoint(found.back());
  CHECK(torch::equal(read.model.at("head.weight"), torch::arange(6, torch::kFloat32)));
  CHECK(read.model_metadata.at("stage") == "fp");
  CHECK(read.state.stage == 1);
  CHECK(read.state.batch == 3);
  CHECK(read.state.best_top1 == 87.5);
  CHECK(read.state.epoch_loss_sum == 0.1 + 0.2);
  CHECK(read.config_yaml == "model: {name: deit}\n");
  CHECK_THROWS_WITH(read_checkpoint(checkpoints / "step-000000040"), Catch::Contains("incomplete"));

  prune_checkpoints(checkpoints, 2);
  found = step_checkpoints(checkpoints);
  REQUIRE(found.size() == 2);
  CHECK(found.front().filename() == "step-000000010");
  CHECK_FALSE(std::filesystem::exists(checkpoints / ".step-000000030.tmp.123.0"));

  // replace_checkpoint swaps a folder (the stage's best) for a new one.
  replace_checkpoint(checkpoints / "best-fp", small_checkpoint(10));
  replace_checkpoint(checkpoints / "best-fp", small_checkpoint(20));
  CHECK(read_checkpoint(checkpoints / "best-fp").state.global_step == 20);
}

TEST_CASE("A checkpoint write that runs out of space fails clearly and leaves the previous one intact", "[engine][checkpoint]") {
  TempDir dir;
  const auto checkpoints = dir.path() / "checkpoints";
  write_checkpoint(checkpoints / checkpoint_name(1), small_checkpoint(1));
  // A file size limit stands in for a full disk: writes past it fail with EFBIG instead of SIGXFSZ.
  rlimit saved{};
  getrlimit(RLIMIT_FSIZE, &saved);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit limited = saved;
  limited.rlim_cur = 64 * 1024;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &limited) == 0);
  bool threw = false;
  std::string message;
  try {
    write_checkpoint(checkpoints / checkpoint_name(2), small_checkpoint(2, 1 << 20));  // a 4 MB model
  } catch (const Error& e) {
    threw = true;
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  CHECK(threw);
  CHECK_THAT(message, Catch::Contains("model.safetensors") && Catch::Contains("write failed"));
  const auto found = step_checkpoints(checkpoints);
  REQUIRE(found.size() == 1);
  CHECK(read_checkpoint(found[0]).state.global_step == 1);
  for (const auto& entry : std::filesystem::directory_iterator(checkpoints))
    CHECK(entry.path().filename().string().rfind(".", 0) != 0);  // no temporary folder left behind
}

TEST_CASE("AdamW state restored into a new optimizer continues exactly like the original", "[engine][checkpoint]") {
  torch::manual_seed(0);
  auto make = [] {
    torch::manual_seed(1);
    return torch::nn::Linear(4, 3);
  };
  auto original = make();
  auto copy = make();
  torch::optim::AdamW first(original->parameters(), torch::optim::AdamWOptions(1e-2).weight_decay(0.05));
  const auto input = torch::randn({8, 4});
  const auto step = [&](torch::nn::Linear& model, torch::optim::AdamW& optimizer) {
    optimizer.zero_grad();
    model->forward(input).pow(2).mean().backward();
    optimizer.step();
  };
  step(original, first);
  step(original, first);
  const auto saved = adamw_state(first);
  CHECK(saved.size() == 6);  // weight and bias: step, exp_avg, exp_avg_sq
  CHECK(saved.at("group0.param0.step").item<int64_t>() == 2);
  {
    torch::NoGradGuard no_grad;
    copy->weight.copy_(original->weight);
    copy->bias.copy_(original->bias);
  }
  torch::optim::AdamW second(copy->parameters(), torch::optim::AdamWOptions(1e-2).weight_decay(0.05));
  load_adamw_state(second, saved, "test");
  step(original, first);
  step(copy, second);
  CHECK(torch::equal(original->weight, copy->weight));
  CHECK(torch::equal(original->bias, copy->bias));

  auto wrong = saved;
  wrong["group0.param0.exp_avg"] = torch::zeros({2, 2});
  CHECK_THROWS_WITH(load_adamw_state(second, wrong, "ckpt"), Catch::Contains("ckpt") && Catch::Contains("group0.param0"));
  wrong = saved;
  wrong.erase("group0.param1.exp_avg_sq");
  CHECK_THROWS_WITH(load_adamw_state(second, wrong, "ckpt"), Catch::Contains("incomplete"));
  wrong = saved;
  wrong["group3.param0.step"] = torch::tensor(int64_t{1});
  CHECK_THROWS_WITH(load_adamw_state(second, wrong, "ckpt"), Catch::Contains("group3.param0.step"));
}

TEST_CASE("Training losses: soft targets, label smoothing and distillation", "[engine]") {
  const auto logits = torch::tensor({{2.0f, 0.5f, -1.0f}, {0.1f, 0.2f, 3.0f}});
  const auto labels = torch::tensor({0, 2}, torch::kInt64);
  const auto one_hot = torch::one_hot(labels, 3).to(torch::kFloat32);
  // Soft targets that are one-hot give plain cross-entropy; smoothed ones equal label smoothing.
  CHECK(soft_target_cross_entropy(logits, one_hot).item<double>() ==
        Approx(smoothed_cross_entropy(logits, labels, 0.0).item<double>()));
  const auto smoothed = one_hot * 0.9 + 0.1 / 3;
  CHECK(soft_target_cross_entropy(logits, smoothed).item<double>() ==
        Approx(smoothed_cross_entropy(logits, labels, 0.1).item<double>()));
  // Soft distillation: zero against itself, positive otherwise, tau^2-scaled KL divided by the logit count.
  CHECK(distillation_loss(logits, logits, DistillType::kSoft, 2.0).item<double>() == Approx(0.0).margin(1e-7));
  const auto teacher = torch::tensor({{0.0f, 1.0f, 0.0f}, {1.0f, 0.0f, 0.0f}});
  const auto p_teacher = torch::softmax(teacher / 2.0, -1);
  const auto kl = (p_teacher * (torch::log_softmax(teacher / 2.0, -1) - torch::log_softmax(logits / 2.0, -1))).sum();
  CHECK(distillation_loss(logits, teacher, DistillType::kSoft, 2.0).item<double>() == Approx(kl.item<double>() * 4.0 / 6.0));
  // Hard distillation: cross-entropy against the teacher's choice (classes 1 and 0 here).
  CHECK(distillation_loss(logits, teacher, DistillType::kHard, 1.0).item<double>() ==
        Approx(smoothed_cross_entropy(logits, torch::tensor({1, 0}, torch::kInt64), 0.0).item<double>()));
}
