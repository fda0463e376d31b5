// Data-parallel tervit-train on the CPU (Gloo over localhost): two processes of batch B against one of
// batch 2B, and what happens when a rank dies, hangs or never comes.
#include <catch2/catch.hpp>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "test_helpers.h"
#include "test_train_helpers.h"
#include "tervit/libtorch/safetensors.h"
#include "tervit/engine/process_group.h"

namespace fs = std::filesystem;
using tervit::testing::executable;
using tervit::testing::free_port;
using tervit::testing::metrics_without_timing;
using tervit::testing::read_text;
using tervit::testing::TempDir;

namespace {

// One fp stage of `epochs` on the tiny data set; nothing random that differs between ranks (no dropout,
// drop path or augmentation: a full-image crop and no flip, jitter, erasing or mixing). No qkv bias: the
// key bias's gradient is zero in exact arithmetic (softmax ignores a score shift shared by all keys), so
// AdamW would turn rounding noise, which differs with the summation order, into lr-sized steps.
std::string write_config(const TempDir& dir, int64_t batch_size, int64_t epochs) {
  const auto path = dir / "run.yaml";
  std::ofstream(path) << "model: {name: deit, architecture: {img_size: 28, patch_size: 7, embed_dim: 24, depth: 1, "
                         "num_heads: 2, num_classes: 10, qkv_bias: false, drop_path_rate: 0.0}}\n"
                      << "data: {root: " << tervit::testing::tiny_fashion_mnist().string() << ", batch_size: " << batch_size
                      << ", workers: 1, crop_pct: 1.0, interpolation: bilinear}\n"
                         "augment: {scale: [1.0, 1.0], ratio: [1.0, 1.0], hflip: 0, auto_augment: '', color_jitter: 0, "
                         "reprob: 0, mixup: 0, cutmix: 0}\n"
                         "optimizer: {clip_grad: 1.0}\n"  // lr scaled by the global batch / 512
                         "logging: {every_steps: 1}\n"
                         "runtime: {threads: 1, seed: 5, device: cpu}\n"
                         "stages:\n"
                         "  - {name: fp, epochs: " << epochs << ", lr: 2.0e-2, warmup_epochs: 0}\n";
  return path.string();
}

// A build without Gloo (against a pip wheel's LibTorch) refuses CPU data parallelism, as
// test_gradient_reducer.cpp checks; these tests then have nothing to run.
bool gloo_missing() {
  if (tervit::engine::ProcessGroup::backend_available(torch::kCPU)) return false;
  tervit::testing::skip_test("this build has no Gloo: CPU data-parallel training was not tested");
  return true;
}

std::string rank_environment(int rank, int world_size, int port) {
  return "RANK=" + std::to_string(rank) + " LOCAL_RANK=" + std::to_string(rank) + " WORLD_SIZE=" + std::to_string(world_size) +
         " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port);
}

// Waits up to `limit` for `pid` to end; its exit code, or nullopt when it still runs.
std::optional<int> exit_within(int pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const auto code = tervit::testing::exit_code_if_done(pid)) return code;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("Two data-parallel processes of batch B (or of two accumulated B/2) train the weights of one process of batch 2B", "[cli][train][dist]") {
  if (gloo_missing()) return;
  TempDir dir;
  const auto single = dir / "single";
  const auto one = tervit::testing::run(dir, "tervit-train", "--config " + write_config(dir, 32, 1) + " --output " + single.string());
  INFO(one.err);
  REQUIRE(one.exit_code == 0);
  const auto weights = [](const fs::path& run) {
    return tervit::read_safetensors(tervit::testing::final_checkpoint(run) / "model.safetensors").tensors;
  };
  const auto expected = weights(single);
  const auto single_metrics = metrics_without_timing(single / "metrics.jsonl");
  REQUIRE(single_metrics.size() == 6);  // 5 steps and the epoch

  // 160 images in batches of 32: 5 steps, the same samples in each (rank r takes every other one); the
  // second run reaches 32 per step through two accumulated batches of 8 on each rank.
  for (const auto& [name, args] : {std::pair<std::string, std::string>{"parallel", "--set data.batch_size=16"},
                                   {"accumulated", "--set data.batch_size=8 --set optimizer.accum_steps=2"}}) {
    INFO(name);
    const auto parallel = dir / name;
    // tools/launch.sh starts the two ranks as torchrun would.
    const auto two = tervit::testing::run_command(dir, "bash " + (tervit::testing::source_dir() / "tools" / "launch.sh").string() + " --nproc 2 -- " +
                                                           executable("tervit-train") + " --config " + write_config(dir, 32, 1) +
                                                           " --output " + parallel.string() + " " + args);
    INFO(two.err);
    REQUIRE(two.exit_code == 0);
    CHECK_THAT(read_text(parallel / "train.log"), Catch::Contains("data parallel: 2 ranks (gloo)") && Catch::Contains("global batch 32"));
    CHECK(tervit::testing::final_checkpoint(parallel).filename() == "step-000000005");

    const auto actual = weights(parallel);
    REQUIRE(actual.size() == expected.size());
    std::vector<torch::Tensor> all_expected, all_actual;
    for (const auto& [tensor_name, tensor] : expected) {
      INFO(tensor_name);
      const auto& trained = actual.at(tensor_name);
      // Per tensor a looser bound: a bias that started at zero has moved only by a few lr-sized steps, and
      // AdamW scales the rounding differences of its near-zero gradient entries up to such steps. A tensor
      // left out of the averaging would be off by far more.
      CHECK(tervit::testing::relative_error(trained, tensor) <= 1e-4);
      all_expected.push_back(tensor.reshape(-1));
      all_actual.push_back(trained.reshape(-1));
    }
    CHECK(tervit::testing::relative_error(torch::cat(all_actual), torch::cat(all_expected)) <= 1e-5);

    // Rank 0 alone wrote the logs: the same lines, the losses averaged over the ranks, and the evaluation
    // summed over both halves of the validation set.
    const auto parallel_metrics = metrics_without_timing(parallel / "metrics.jsonl");
    REQUIRE(parallel_metrics.size() == single_metrics.size());
    for (size_t i = 0; i < 5; ++i)
      CHECK(parallel_metrics[i]["loss"].get<double>() == Approx(single_metrics[i]["loss"].get<double>()).epsilon(1e-5));
    CHECK(parallel_metrics[5]["val_top1"].get<double>() == Approx(single_metrics[5]["val_top1"].get<double>()).margin(100.0 / 160));
    CHECK(parallel_metrics[5]["val_loss"].get<double>() == Approx(single_metrics[5]["val_loss"].get<double>()).epsilon(1e-4));
  }
}

TEST_CASE("A rank that dies, hangs or never starts makes the others stop with an error within the timeout", "[cli][train][dist][slow]") {
  if (gloo_missing()) return;
  TempDir dir;
  const auto config = write_config(dir, 16, 200) + " --set runtime.dist_timeout_s=5";
  const auto metrics = dir / "run" / "metrics.jsonl";
  const auto start_pair = [&](const TempDir& log0, const TempDir& log1, int port) {
    const auto args = "--config " + config + " --output " + (dir / "run").string();
    const int rank0 = tervit::testing::spawn(log0, "tervit-train", args, rank_environment(0, 2, port));
    const int rank1 = tervit::testing::spawn(log1, "tervit-train", args, rank_environment(1, 2, port));
    // Until both train: the metrics log grows.
    const auto started = std::chrono::steady_clock::now();
    const auto lines = fs::exists(metrics) ? read_text(metrics).size() : 0;
    while (!fs::exists(metrics) || read_text(metrics).size() <= lines) {
      REQUIRE(std::chrono::steady_clock::now() - started < std::chrono::seconds(60));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return std::make_pair(rank0, rank1);
  };

  SECTION("killed") {
    TempDir log0, log1;
    const auto [rank0, rank1] = start_pair(log0, log1, free_port());
    ::kill(rank1, SIGKILL);
    CHECK(tervit::testing::wait_for(rank1) == -SIGKILL);
    const auto code = exit_within(rank0, std::chrono::seconds(30));
    if (!code) ::kill(rank0, SIGKILL);
    REQUIRE(code.has_value());
    CHECK(*code == 1);
    const auto err = read_text(log0 / "stderr.txt");
    INFO(err);
    CHECK_THAT(err, Catch::Contains("failed on rank 0 of 2 (gloo)") && Catch::Contains("runtime.dist_timeout_s (5 s)"));
  }
  SECTION("hung") {
    TempDir log0, log1;
    const auto [rank0, rank1] = start_pair(log0, log1, free_port());
    ::kill(rank1, SIGSTOP);
    const auto stopped = std::chrono::steady_clock::now();
    const auto code = exit_within(rank0, std::chrono::seconds(30));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count();
    ::kill(rank1, SIGKILL);
    tervit::testing::wait_for(rank1);
    if (!code) ::kill(rank0, SIGKILL);
    REQUIRE(code.has_value());
    CHECK(*code == 1);
    CHECK(seconds >= 4.0);  // the timeout, not an earlier guess
    const auto err = read_text(log0 / "stderr.txt");
    INFO(err);
    CHECK_THAT(err, Catch::Contains("failed on rank 0 of 2 (gloo)"));
  }
  SECTION("never started") {
    const auto result = tervit::testing::run_command(dir, "env " + rank_environment(0, 2, free_port()) + " " +
                                                              executable("tervit-train") + " --config " + config + " --output " +
                                                              (dir / "alone").string() + " --set runtime.dist_timeout_s=2");
    CHECK(result.exit_code == 1);
    // LibTorch 1.13's TCPStore lets rank 0 on and the first collective times out; 2.x's store times out
    // itself. Either message names the rank and the setting with its value.
    CHECK_THAT(result.err, Catch::Contains("distributed") && Catch::Contains("rank 0 of 2") &&
                               Catch::Contains("runtime.dist_timeout_s (2 s"));
    CHECK_FALSE(fs::exists(dir / "alone"));
  }
}
