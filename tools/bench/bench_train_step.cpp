// Training-step time (forward, cross-entropy, backward, AdamW step) in full precision and with ternary
// weights, same model, batch and threads. Issue 4's goal: ternary at most 1.15x full precision.
//   build/bench_train_step --model deit_tiny_patch16_224 --batch 32 --threads 1,2 --steps 5
// On a GPU, optionally under autocast (the trainer's runtime.amp):
//   build/bench_train_step --device cuda --amp bf16 --batch 256 --steps 20
// Started as a data-parallel group (tools/launch.sh, torchrun), it measures the scaling instead: rank 0
// alone, then every rank with its gradients averaged (batch per rank), the throughput of both, the
// all-reduce time that backward did not hide, and the time of one all-reduce of all gradients alone.
//   tools/launch.sh --nproc 2 -- build/bench_train_step --model deit_tiny_patch16_224 --batch 32 --threads 1
#include <ATen/record_function.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>

#include "models/apply_quant_spec.h"
#include "models/registry.h"
#include "tervit/libtorch/app.h"
#include "tervit/core/error.h"
#include "tervit/libtorch/process.h"
#include "tervit/core/thread_budget.h"
#include "tervit/engine/adamw.h"
#include "tervit/engine/gradient_reducer.h"
#include "tervit/engine/mixed_precision.h"
#include "tervit/engine/process_group.h"
#include "tervit/engine/rendezvous.h"
#include "tervit/quant/quant_layers.h"
#include "tervit/quant/quant_spec.h"

namespace {

// A model with its optimizer (the quantizer's learnable tensors included, though plain ternary has none)
// and, in a data-parallel group, the reducer that averages its gradients.
struct Trainee {
  tervit::models::VisionModel model;
  std::vector<torch::Tensor> parameters;
  std::unique_ptr<tervit::engine::AdamW> optimizer;
  std::unique_ptr<tervit::engine::GradientReducer> reducer;
};

Trainee make_trainee(const std::string& name, tervit::quant::WeightQuant weight_quant,
                     const torch::Device& device = torch::kCPU) {
  torch::manual_seed(0);
  Trainee trainee{tervit::models::create_model(name), {}, nullptr, nullptr};
  trainee.model->to(device);
  trainee.model->train();
  tervit::models::apply_quant_spec(*trainee.model, tervit::quant::QuantSpec().weight_quant(weight_quant));
  trainee.parameters = trainee.model->parameters();
  const auto quantizer_parameters = tervit::quant::quantizer_parameters(*trainee.model);
  trainee.parameters.insert(trainee.parameters.end(), quantizer_parameters.begin(), quantizer_parameters.end());
  std::vector<torch::optim::OptimizerParamGroup> groups{torch::optim::OptimizerParamGroup(trainee.parameters)};
  trainee.optimizer = std::make_unique<tervit::engine::AdamW>(std::move(groups), torch::optim::AdamWOptions(5e-4).weight_decay(0.05),
                                                              /*fused=*/true);  // as tervit-train
  return trainee;
}

// One training step; returns its wall time in milliseconds (on a GPU, until its work is done).
// per_layer_quantizers: forward_head(head_features(...)), which leaves each layer to quantize its own
// weight, instead of forward's batched quantizers (for the operator count).
double step_ms(Trainee& trainee, const torch::Tensor& images, const torch::Tensor& labels,
               tervit::engine::AmpMode amp = tervit::engine::AmpMode::kNone, bool per_layer_quantizers = false) {
  tervit::adapt_threads();  // as tervit-train does each step
  const auto start = std::chrono::steady_clock::now();
  trainee.optimizer->zero_grad();
  if (trainee.reducer) trainee.reducer->prepare(true);
  torch::Tensor loss;
  {
    tervit::engine::AutocastScope autocast(amp, images.device());
    const auto logits = per_layer_quantizers ? trainee.model->forward_head(trainee.model->head_features(images))
                                             : trainee.model->forward(images);
    loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), labels);
  }
  loss.backward();
  if (trainee.reducer) trainee.reducer->finish();
  trainee.optimizer->step();
  if (images.is_cuda()) torch::cuda::synchronize();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Operators one training step dispatches (each a kernel launch on a GPU, roughly; composite operators
// count with the ones they call), counted by a RecordFunction callback on every thread.
std::atomic<int64_t> dispatched_ops{0};
std::unique_ptr<at::ObserverContext> count_op(const at::RecordFunction&) {
  dispatched_ops.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}
int64_t step_ops(Trainee& trainee, const torch::Tensor& images, const torch::Tensor& labels, tervit::engine::AmpMode amp,
                 bool per_layer_quantizers = false) {
  const auto handle = at::addGlobalCallback(at::RecordFunctionCallback(count_op).scopes({at::RecordScope::FUNCTION}));
  dispatched_ops = 0;
  step_ms(trainee, images, labels, amp, per_layer_quantizers);
  at::removeCallback(handle);
  return dispatched_ops.load();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Every rank waits here until all have arrived.
void barrier(tervit::engine::ProcessGroup& group) { group.all_reduce_sum(torch::zeros({1})).wait(); }

// Rank 0 alone, then all ranks with averaged gradients, for full precision and ternary weights.
void measure_scaling(const std::shared_ptr<tervit::engine::ProcessGroup>& shared_group, const std::string& name, int64_t batch,
                     int steps) {
  auto& group = *shared_group;
  const auto world = group.world_size();
  if (group.rank() == 0)
    std::printf("%-24s %8s %6s %8s %12s %12s %10s %13s %8s %13s\n", "model", "weights", "batch", "procs", "1 proc img/s",
                "N proc img/s", "scaling", "exposed ms", "of step", "allreduce ms");
  for (const auto weight_quant : {tervit::quant::WeightQuant::kFp, tervit::quant::WeightQuant::kTernary}) {
    auto trainee = make_trainee(name, weight_quant);
    const auto images = torch::randn({batch, trainee.model->in_chans(), trainee.model->img_size(), trainee.model->img_size()});
    const auto labels = torch::randint(trainee.model->num_classes(), {batch}, torch::kLong);
    std::vector<double> alone_ms, parallel_ms, exposed_ms, allreduce_ms;
    if (group.rank() == 0) {
      step_ms(trainee, images, labels);  // warm-up
      for (int i = 0; i < steps; ++i) alone_ms.push_back(step_ms(trainee, images, labels));
    }
    barrier(group);
    trainee.reducer = std::make_unique<tervit::engine::GradientReducer>(trainee.parameters, shared_group);
    step_ms(trainee, images, labels);  // warm-up, and the buckets rebuilt in arrival order
    for (int i = 0; i < steps; ++i) {
      parallel_ms.push_back(step_ms(trainee, images, labels));
      exposed_ms.push_back(1000.0 * trainee.reducer->last_finish_seconds());
    }
    // The same bytes in one all-reduce, nothing to hide it behind.
    int64_t elements = 0;
    for (const auto& p : trainee.parameters) elements += p.numel();
    auto flat = torch::zeros({elements});
    for (int i = 0; i < 3; ++i) {
      barrier(group);
      const auto start = std::chrono::steady_clock::now();
      group.all_reduce_sum(flat).wait();
      allreduce_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    if (group.rank() != 0) continue;
    const double alone = 1000.0 * static_cast<double>(batch) / median(alone_ms);
    const double parallel = 1000.0 * static_cast<double>(batch * world) / median(parallel_ms);
    std::printf("%-24s %8s %6ld %8ld %12.1f %12.1f %9.0f%% %13.1f %7.1f%% %13.1f\n", name.c_str(),
                weight_quant == tervit::quant::WeightQuant::kFp ? "fp" : "ternary", static_cast<long>(batch),
                static_cast<long>(world), alone, parallel, 100.0 * parallel / (alone * static_cast<double>(world)),
                median(exposed_ms), 100.0 * median(exposed_ms) / median(parallel_ms), median(allreduce_ms));
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_train_step: training-step time, full precision vs ternary weights"};
  std::string name = "deit_tiny_patch16_224";
  int64_t batch = 32;
  std::vector<int> threads{1, 2};
  int steps = 5;
  std::string device_name = "cpu", amp_name = "none";
  app.add_option("--model", name, "model name")->capture_default_str();
  app.add_option("--device", device_name, "cpu, cuda or cuda:N (one process)")->capture_default_str();
  app.add_option("--amp", amp_name, "autocast on CUDA: none, bf16 or fp16")->capture_default_str();
  app.add_option("--batch", batch, "images per step")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "thread counts")->delimiter(',')->capture_default_str();
  app.add_option("--steps", steps, "measured steps per case (after one warm-up step)")->capture_default_str()->check(CLI::PositiveNumber);
  return tervit::run_app(app, argc, argv, [&] {
    const auto device = tervit::resolve_device(device_name);
    const auto amp = tervit::engine::amp_mode_names().parse(amp_name, "runtime.amp");
    tervit::keep_freed_memory();  // as tervit-train does
    tervit::log_process_report("bench_train_step", device);
    auto rendezvous = tervit::engine::rendezvous_from_environment();
    if (rendezvous && rendezvous->world_size > 1) {
      if (!device.is_cpu()) throw tervit::Error("--device: the data-parallel scaling is measured on the CPU only");
      tervit::set_threads(threads.front());
      measure_scaling(std::make_shared<tervit::engine::ProcessGroup>(*rendezvous, torch::kCPU, std::chrono::minutes(10)), name,
                      batch, steps);
      return tervit::kExitOk;
    }
    auto fp = make_trainee(name, tervit::quant::WeightQuant::kFp, device);
    auto ternary = make_trainee(name, tervit::quant::WeightQuant::kTernary, device);
    const auto images = torch::randn({batch, fp.model->in_chans(), fp.model->img_size(), fp.model->img_size()}, device);
    const auto labels = torch::randint(fp.model->num_classes(), {batch}, torch::TensorOptions(device).dtype(torch::kLong));
    std::printf("%-24s %6s %8s %14s %14s %8s\n", "model", "batch", "threads", "fp ms/step", "ternary ms/step", "ratio");
    for (const int t : threads) {
      tervit::set_threads(t);
      step_ms(fp, images, labels, amp);  // warm-up: allocations, OpenMP pool, cuBLAS/cuDNN handles
      step_ms(ternary, images, labels, amp);
      // Alternating steps so that load from other processes hits both cases alike; medians resist outliers.
      std::vector<double> fp_ms, ternary_ms;
      for (int i = 0; i < steps; ++i) {
        fp_ms.push_back(step_ms(fp, images, labels, amp));
        ternary_ms.push_back(step_ms(ternary, images, labels, amp));
      }
      std::printf("%-24s %6ld %8d %14.1f %14.1f %8.3f\n", name.c_str(), static_cast<long>(batch), t, median(fp_ms),
                  median(ternary_ms), median(ternary_ms) / median(fp_ms));
      std::fflush(stdout);
    }
    std::printf("operators dispatched per step: fp %ld, ternary %ld (with each layer's own quantizer: %ld)\n",
                static_cast<long>(step_ops(fp, images, labels, amp)), static_cast<long>(step_ops(ternary, images, labels, amp)),
                static_cast<long>(step_ops(ternary, images, labels, amp, /*per_layer_quantizers=*/true)));
    return tervit::kExitOk;
  });
}
