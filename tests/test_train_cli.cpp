// tervit-train end to end on a slice of Fashion-MNIST: stages, checkpoints, resume after kills and
// signals, bad input, and tervit-eval on the result.
#include <catch2/catch.hpp>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_helpers.h"
#include "test_train_helpers.h"
#include "tervit/libtorch/safetensors.h"
#include "tervit/engine/checkpoint.h"

namespace fs = std::filesystem;
using tervit::testing::final_checkpoint;
using tervit::testing::metrics_without_timing;
using tervit::testing::run;
using tervit::testing::write_train_config;
using tervit::testing::TempDir;
using tervit::testing::tiny_fashion_mnist;

TEST_CASE("tervit-train runs the stages, keeps checkpoints and tervit-eval scores them", "[cli][train]") {
  TempDir dir;
  const auto config = write_train_config(dir);
  const auto out = dir / "run";
  const auto result = run(dir, "tervit-train", "--config " + config + " --output " + out.string());
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(fs::exists(out / "config.yaml"));
  CHECK_THAT(tervit::testing::read_text(out / "train.log"), Catch::Contains("stage ternary (2/2)"));
  const auto metrics = metrics_without_timing(out / "metrics.jsonl");
  REQUIRE(metrics.size() == 12);  // per stage: 5 step lines (every 2 of 10 steps) and 1 epoch line
  CHECK(metrics[5]["kind"] == "epoch");
  CHECK(metrics[5]["stage"] == "fp");
  CHECK(metrics[11]["step"] == 20);
  CHECK(metrics[7].contains("ternary_sparsity"));
  CHECK(metrics[7].contains("flip_rate"));
  CHECK(metrics[11]["val_top1"].get<double>() >= 0.0);
  CHECK(metrics[11]["val_top5"].get<double>() >= metrics[11]["val_top1"].get<double>());

  // The last checkpoint points past the last stage; best-<stage> holds each stage's best.
  const auto last = final_checkpoint(out);
  CHECK(last.filename() == "step-000000020");
  const auto state = nlohmann::json::parse(tervit::testing::read_text(last / "trainer_state.json"));
  CHECK(state["stage"] == 2);
  CHECK(state["global_step"] == 20);
  for (const auto* best : {"best-fp", "best-ternary"}) CHECK(fs::exists(out / "checkpoints" / best / "trainer_state.json"));
  // model.safetensors holds timm's names and the stage's quantizer in its metadata.
  const auto model = tervit::read_safetensors(out / "checkpoints" / "best-ternary" / "model.safetensors");
  CHECK(model.tensors.count("blocks.0.attn.qkv.weight") == 1);
  CHECK(model.tensors.count("cls_token") == 1);
  CHECK_THAT(model.metadata.at("quant"), Catch::Contains("ternary"));

  // tervit-eval on the val split: the ternary checkpoint evaluates ternary, with the run's normalisation.
  const auto eval = run(dir, "tervit-eval", "--checkpoint " + (out / "checkpoints" / "best-ternary").string() +
                                                " --data " + (tiny_fashion_mnist() / "val").string() + " --threads 1");
  INFO(eval.err);
  REQUIRE(eval.exit_code == 0);
  const auto scores = nlohmann::json::parse(eval.out);
  CHECK(scores["images"] == 160);
  CHECK(scores["top1"].get<double>() == Approx(metrics[11]["val_top1"].get<double>()));
  CHECK(scores["loss"].get<double>() == Approx(metrics[11]["val_loss"].get<double>()).epsilon(1e-4));
  CHECK(scores["model_size_mb"].get<double>() > 0);
  CHECK_THAT(eval.err, Catch::Contains("ternary"));

  // The trained checkpoint exported packed and run by tervit's kernels classifies like the checkpoint.
  const auto packed = (dir / "model.packed.safetensors").string();
  const auto exported = run(dir, "tervit-export", "--checkpoint " + (out / "checkpoints" / "best-ternary").string() + " --out " + packed);
  INFO(exported.err);
  REQUIRE(exported.exit_code == 0);
  for (const auto* mode : {"exact", "int8"}) {
    const auto packed_eval = run(dir, "tervit-eval", "--packed " + packed + " --packed-mode " + mode + " --data " +
                                                         (tiny_fashion_mnist() / "val").string() +
                                                         " --threads 1");
    INFO(packed_eval.err);
    REQUIRE(packed_eval.exit_code == 0);
    CHECK_THAT(packed_eval.err, Catch::Contains("crop_pct 1,"));  // the run's preprocessing, recorded in the file
    const auto packed_scores = nlohmann::json::parse(packed_eval.out);
    CHECK(packed_scores["top1"].get<double>() == Approx(scores["top1"].get<double>()).margin(100.0 * 2 / 160));
    CHECK(packed_scores["model_size_mb"].get<double>() == Approx(fs::file_size(packed) / 1e6));
  }
}

TEST_CASE("A run killed at any moment and resumed gives the uninterrupted run's losses and weights", "[cli][train][slow]") {
  TempDir dir;
  const auto config = write_train_config(dir);
  const auto reference = dir / "reference";
  REQUIRE(run(dir, "tervit-train", "--config " + config + " --output " + reference.string()).exit_code == 0);

  // Kill the second run (SIGKILL) while it writes checkpoints and between them, resuming each time.
  const auto out = dir / "killed";
  const auto args = "--config " + config + " --output " + out.string() + " --resume auto";
  int kills = 0;
  for (int attempt = 0; attempt < 40; ++attempt) {
    const int pid = tervit::testing::spawn(dir, "tervit-train", args);
    const auto started = std::chrono::steady_clock::now();
    std::optional<int> exit_code;
    // Kill points: while a hidden temporary checkpoint folder exists (a write in progress), or just
    // after a new checkpoint appeared; alternating. A write too quick to catch falls back to the second.
    const bool during_write = attempt % 2 == 0;
    const auto newest = [&] {
      const auto all = tervit::engine::step_checkpoints(out / "checkpoints");
      return all.empty() ? fs::path() : all.back();
    };
    const auto newest_at_start = newest();
    while (!(exit_code = tervit::testing::exit_code_if_done(pid))) {
      bool writing = false;
      if (during_write && fs::exists(out / "checkpoints"))
        for (const auto& entry : fs::directory_iterator(out / "checkpoints"))
          writing = writing || entry.path().filename().string().rfind(".", 0) == 0;
      const bool kill_now = writing || newest() != newest_at_start;
      if (kill_now || std::chrono::steady_clock::now() - started > std::chrono::seconds(60)) {
        ::kill(pid, SIGKILL);
        exit_code = tervit::testing::wait_for(pid);
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (*exit_code == 0) break;
    REQUIRE(*exit_code == -SIGKILL);
    ++kills;
  }
  INFO(tervit::testing::read_text(dir / "stderr.txt"));
  CHECK(kills >= 3);
  CHECK(metrics_without_timing(out / "metrics.jsonl") == metrics_without_timing(reference / "metrics.jsonl"));
  const auto expected = tervit::read_safetensors(final_checkpoint(reference) / "model.safetensors");
  const auto actual = tervit::read_safetensors(final_checkpoint(out) / "model.safetensors");
  REQUIRE(actual.tensors.size() == expected.tensors.size());
  for (const auto& [name, tensor] : expected.tensors) CHECK(torch::equal(actual.tensors.at(name), tensor));
}

TEST_CASE("SIGINT finishes the step, writes a checkpoint and exits cleanly", "[cli][train]") {
  TempDir dir;
  const auto config = write_train_config(dir);
  const auto out = dir / "run";
  const int pid = tervit::testing::spawn(dir, "tervit-train", "--config " + config + " --output " + out.string());
  while (!fs::exists(out / "metrics.jsonl") || tervit::testing::read_text(out / "metrics.jsonl").empty())
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ::kill(pid, SIGINT);
  CHECK(tervit::testing::wait_for(pid) == 0);
  const auto err = tervit::testing::read_text(dir / "stderr.txt");
  CHECK_THAT(err, Catch::Contains("signal 2") && Catch::Contains("--resume auto"));
  const auto state = nlohmann::json::parse(tervit::testing::read_text(final_checkpoint(out) / "trainer_state.json"));
  CHECK(state["global_step"].get<int>() < 20);
  // Resuming finishes the run.
  const auto resumed = run(dir, "tervit-train", "--config " + config + " --output " + out.string() + " --resume auto");
  CHECK(resumed.exit_code == 0);
  CHECK(final_checkpoint(out).filename() == "step-000000020");
}

TEST_CASE("tervit-train rejects bad input with exit code 2, naming it, writing nothing", "[cli][train][slow]") {
  TempDir dir;
  const auto config = write_train_config(dir);
  const auto out = dir / "out";
  const auto expect_rejected = [&](const std::string& args, const std::vector<std::string>& names) {
    const auto result = run(dir, "tervit-train", "--config " + config + " --output " + out.string() + " " + args);
    INFO(args << "\n" << result.err);
    CHECK(result.exit_code == 2);
    for (const auto& name : names) CHECK_THAT(result.err, Catch::Contains(name));
    CHECK_FALSE(fs::exists(out));
  };
  expect_rejected("--set data.root=" + (dir / "nowhere").string(), {"data.train_split", "nowhere", "does not exist"});
  expect_rejected("--set model.architecture.num_classes=7", {"10 classes", "num_classes 7"});
  expect_rejected("--set stages=[]", {"stages", "empty"});
  expect_rejected("--set augment.mixup=-1", {"augment.mixup"});
  std::ofstream(dir / "unknown.yaml") << tervit::testing::read_text(config) << "  - {name: t2, epochs: 1, weight_quant: binary}\n";
  const auto unknown = run(dir, "tervit-train", "--config " + (dir / "unknown.yaml").string() + " --output " + out.string());
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("stages[2].weight_quant") && Catch::Contains("binary"));
  CHECK_FALSE(fs::exists(out));

  // An empty class folder.
  TempDir data;
  fs::copy(tiny_fashion_mnist(), data.path() / "fm", fs::copy_options::recursive);
  fs::remove_all(data.path() / "fm" / "val" / "3_dress");
  fs::create_directories(data.path() / "fm" / "val" / "3_dress");
  expect_rejected("--set data.root=" + (data.path() / "fm").string(), {"3_dress"});

  // A run folder that holds checkpoints is continued only with --resume; another config may not resume it.
  REQUIRE(run(dir, "tervit-train", "--config " + config + " --output " + out.string()).exit_code == 0);
  const auto before = tervit::testing::read_text(out / "metrics.jsonl");
  auto again = run(dir, "tervit-train", "--config " + config + " --output " + out.string());
  CHECK(again.exit_code == 2);
  CHECK_THAT(again.err, Catch::Contains("already holds checkpoints"));
  again = run(dir, "tervit-train", "--config " + config + " --output " + out.string() + " --resume auto --set data.batch_size=8");
  CHECK(again.exit_code == 2);
  CHECK_THAT(again.err, Catch::Contains("another config") && Catch::Contains("data.batch_size"));
  CHECK(tervit::testing::read_text(out / "metrics.jsonl") == before);
}

TEST_CASE("A non-finite loss stops the run naming stage and step, keeping the last checkpoint", "[cli][train]") {
  TempDir dir;
  const auto config = write_train_config(dir, "lr: 1.0e+30, weight_decay: 0");
  const auto out = dir / "run";
  auto result = run(dir, "tervit-train", "--config " + config + " --output " + out.string() + " --set augment.mixup=0 --set augment.cutmix=0");
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.err, Catch::Contains("stage 'fp'") && Catch::Contains("step ") && Catch::Contains("last good checkpoint"));
}

TEST_CASE("Distillation from a teacher's weights: soft, and hard through DeiT's distillation token, with EMA", "[cli][train]") {
  TempDir dir;
  const auto config = write_train_config(dir);
  REQUIRE(run(dir, "tervit-train", "--config " + config + " --output " + (dir / "teacher").string()).exit_code == 0);
  const auto teacher = (dir / "teacher" / "checkpoints" / "best-fp" / "model.safetensors").string();
  const auto common = " --set augment.mixup=0 --set augment.cutmix=0 --set optimizer.ema_decay=0.9";
  const auto plain = run(dir, "tervit-train", "--config " + config + " --output " + (dir / "plain").string() + common);
  REQUIRE(plain.exit_code == 0);
  const auto soft = run(dir, "tervit-train", "--config " + config + " --output " + (dir / "soft").string() + common +
                                                 " --set distill.type=soft --set distill.tau=2.0 --set distill.teacher_weights=" + teacher);
  INFO(soft.err);
  REQUIRE(soft.exit_code == 0);
  const auto hard = run(dir, "tervit-train", "--config " + config + " --output " + (dir / "hard").string() + common +
                                                 " --set model.architecture.distilled=true --set distill.type=hard --set distill.teacher_weights=" + teacher);
  INFO(hard.err);
  REQUIRE(hard.exit_code == 0);
  // Same data, seed and student: only the distillation term changes the losses.
  const auto plain_metrics = metrics_without_timing(dir / "plain" / "metrics.jsonl");
  const auto soft_metrics = metrics_without_timing(dir / "soft" / "metrics.jsonl");
  REQUIRE(plain_metrics.size() == soft_metrics.size());
  CHECK(plain_metrics[0]["loss"] != soft_metrics[0]["loss"]);
  CHECK(soft_metrics[5].contains("ema_val_top1"));
  // The distilled student keeps its second head (timm's head_dist) in the checkpoint.
  const auto model = tervit::read_safetensors(dir / "hard" / "checkpoints" / "best-ternary" / "model.safetensors");
  CHECK(model.tensors.count("head_dist.weight") == 1);
  CHECK(model.tensors.count("dist_token") == 1);

  const auto wrong = run(dir, "tervit-train", "--config " + config + " --output " + (dir / "wrong").string() +
                                                  " --set distill.type=soft --set distill.teacher_weights=" + (dir / "none.safetensors").string());
  CHECK(wrong.exit_code == 2);
  CHECK_THAT(wrong.err, Catch::Contains("none.safetensors"));
  CHECK_FALSE(fs::exists(dir / "wrong"));
}

TEST_CASE("A checkpoint write on a full disk keeps the previous checkpoint and stops or continues as configured", "[cli][train]") {
  TempDir dir;
  const auto config = write_train_config(dir);
  // A run stopped by SIGINT after its first checkpoint leaves a run folder to resume from.
  const auto stopped = dir / "stopped";
  const int pid = tervit::testing::spawn(dir, "tervit-train", "--config " + config + " --output " + stopped.string());
  while (tervit::engine::step_checkpoints(stopped / "checkpoints").empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ::kill(pid, SIGINT);
  REQUIRE(tervit::testing::wait_for(pid) == 0);
  const auto previous = final_checkpoint(stopped).filename();
  const int64_t previous_step = tervit::engine::read_checkpoint(stopped / "checkpoints" / previous).state.global_step;
  REQUIRE(previous_step < 20);

  // The resumed run may write no file over 16 KiB (a checkpoint's model file is some 45 KB): a full disk.
  // SIGXFSZ is ignored so that writes past the limit fail with EFBIG instead of killing the process.
  const std::string full_disk = "trap '' XFSZ; ulimit -f 32; ";
  for (const std::string policy : {"stop", "continue"}) {
    INFO("checkpoint.on_write_error: " << policy);
    const auto out = dir / policy;
    fs::copy(stopped, out, fs::copy_options::recursive);
    const auto result = run(dir, "tervit-train", "--config " + config + " --output " + out.string() +
                                                      " --resume auto --set checkpoint.on_write_error=" + policy, full_disk);
    INFO(result.err);
    CHECK_THAT(result.err, Catch::Contains("checkpoint write failed") && Catch::Contains("model.safetensors") &&
                               Catch::Contains("on_write_error: " + policy));
    // No new checkpoint, no temporary folder left behind, and the previous checkpoint still loads.
    CHECK(final_checkpoint(out).filename() == previous);
    for (const auto& entry : fs::directory_iterator(out / "checkpoints")) CHECK(entry.path().filename().string().rfind(".", 0) != 0);
    CHECK(tervit::engine::read_checkpoint(out / "checkpoints" / previous).state.global_step == previous_step);
    const auto log = tervit::testing::read_text(out / "train.log");
    if (policy == "stop") {
      CHECK(result.exit_code == 1);
      CHECK_THAT(result.err, Catch::Contains("stopping"));
      CHECK(metrics_without_timing(out / "metrics.jsonl").size() < 12);
    } else {
      CHECK(result.exit_code == 0);
      CHECK_THAT(log, Catch::Contains("training continues") && Catch::Contains("training done"));
      CHECK(metrics_without_timing(out / "metrics.jsonl").size() == 12);  // trained to the end
    }
  }
}
