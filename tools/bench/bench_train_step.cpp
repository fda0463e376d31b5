// Training-step time (forward, cross-entropy, backward, AdamW step) in full precision and with ternary
// weights, same model, batch and threads. Issue 4's goal: ternary at most 1.15x full precision.
//   build/bench_train_step --model deit_tiny_patch16_224 --batch 32 --threads 1,2 --steps 5
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "models/registry.h"
#include "tervit/core/app.h"
#include "tervit/core/runtime.h"
#include "tervit/quant/quant_layers.h"
#include "tervit/quant/quant_spec.h"

namespace {

// A model with its optimizer (the quantizer's learnable tensors included, though plain ternary has none).
struct Trainee {
  tervit::models::VisionModel model;
  std::unique_ptr<torch::optim::AdamW> optimizer;
};

Trainee make_trainee(const std::string& name, tervit::quant::WeightQuant weight_quant) {
  torch::manual_seed(0);
  Trainee trainee{tervit::models::create_model(name), nullptr};
  trainee.model->train();
  tervit::quant::apply_quant_spec(*trainee.model, tervit::quant::QuantSpec().weight_quant(weight_quant));
  auto parameters = trainee.model->parameters();
  const auto quantizer_parameters = tervit::quant::quantizer_parameters(*trainee.model);
  parameters.insert(parameters.end(), quantizer_parameters.begin(), quantizer_parameters.end());
  trainee.optimizer = std::make_unique<torch::optim::AdamW>(parameters, torch::optim::AdamWOptions(5e-4).weight_decay(0.05));
  return trainee;
}

// One training step; returns its wall time in milliseconds.
double step_ms(Trainee& trainee, const torch::Tensor& images, const torch::Tensor& labels) {
  const auto start = std::chrono::steady_clock::now();
  trainee.optimizer->zero_grad();
  torch::nn::functional::cross_entropy(trainee.model->forward(images), labels).backward();
  trainee.optimizer->step();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_train_step: training-step time, full precision vs ternary weights"};
  std::string name = "deit_tiny_patch16_224";
  int64_t batch = 32;
  std::vector<int> threads{1, 2};
  int steps = 5;
  app.add_option("--model", name, "model name")->capture_default_str();
  app.add_option("--batch", batch, "images per step")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "thread counts")->delimiter(',')->capture_default_str();
  app.add_option("--steps", steps, "measured steps per case (after one warm-up step)")->capture_default_str()->check(CLI::PositiveNumber);
  return tervit::run_app(app, argc, argv, [&] {
    tervit::log_runtime("bench_train_step", torch::kCPU);
    auto fp = make_trainee(name, tervit::quant::WeightQuant::kFp);
    auto ternary = make_trainee(name, tervit::quant::WeightQuant::kTernary);
    const auto images = torch::randn({batch, fp.model->in_chans(), fp.model->img_size(), fp.model->img_size()});
    const auto labels = torch::randint(fp.model->num_classes(), {batch}, torch::kLong);
    std::printf("%-24s %6s %8s %14s %14s %8s\n", "model", "batch", "threads", "fp ms/step", "ternary ms/step", "ratio");
    for (const int t : threads) {
      tervit::set_threads(t);
      step_ms(fp, images, labels);  // warm-up: allocations, OpenMP pool
      step_ms(ternary, images, labels);
      // Alternating steps so that load from other processes hits both cases alike; medians resist outliers.
      std::vector<double> fp_ms, ternary_ms;
      for (int i = 0; i < steps; ++i) {
        fp_ms.push_back(step_ms(fp, images, labels));
        ternary_ms.push_back(step_ms(ternary, images, labels));
      }
      std::printf("%-24s %6ld %8d %14.1f %14.1f %8.3f\n", name.c_str(), static_cast<long>(batch), t, median(fp_ms),
                  median(ternary_ms), median(ternary_ms) / median(fp_ms));
      std::fflush(stdout);
    }
    return tervit::kExitOk;
  });
}
