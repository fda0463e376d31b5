// A stage's start: its weights, quantizers, optimizer, lr schedule, EMA and diagnostics.
#include <spdlog/spdlog.h>

#include <cmath>

#include "models/apply_quant_spec.h"
#include "models/pretrained.h"
#include "tervit/engine/adamw.h"
#include "tervit/engine/optimizer_state.h"
#include "tervit/engine/param_groups.h"
#include "tervit/quant/quant_layers.h"
#include "tervit/quant/quantizer_state.h"
#include "src/engine/training_run.h"

namespace tervit::engine {

namespace fs = std::filesystem;

namespace {

// AdamW over the model's decay / no-decay groups, plus the quantizers' tensors without weight decay; its
// fused kernel where LibTorch has one.
std::unique_ptr<AdamW> make_optimizer(TrainingRun& run, const StageConfig& stage) {
  auto groups = adamw_param_groups(*run.model, stage.weight_decay);
  const auto quantizer_tensors = quant::quantizer_parameters(*run.model);
  if (!quantizer_tensors.empty())
    groups.emplace_back(quantizer_tensors, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions().weight_decay(0)));
  run.trained.clear();
  for (const auto& group : groups) run.trained.insert(run.trained.end(), group.params().begin(), group.params().end());
  const auto& betas = run.config.optimizer.betas;
  torch::optim::AdamWOptions defaults(stage.lr);
  defaults.betas({betas[0], betas[1]}).eps(run.config.optimizer.eps).weight_decay(stage.weight_decay);
  for (auto& group : groups)
    if (group.has_options()) {
      auto& o = static_cast<torch::optim::AdamWOptions&>(group.options());
      o.betas(defaults.betas()).eps(defaults.eps());
    }
  return std::make_unique<AdamW>(std::move(groups), defaults, /*fused=*/true);
}

LrScheduleOptions stage_schedule(const TrainingRun& run, const StageConfig& stage) {
  const double scale = scaled_lr(1.0, run.global_batch(), run.config.optimizer.lr_base_batch);
  LrScheduleOptions schedule;
  schedule.peak_lr = stage.lr * scale;
  schedule.min_lr = stage.min_lr * scale;
  schedule.warmup_lr = stage.warmup_lr * scale;
  schedule.warmup_steps = static_cast<int64_t>(std::llround(stage.warmup_epochs * static_cast<double>(run.steps_per_epoch())));
  schedule.total_steps = stage.epochs * run.steps_per_epoch();
  return schedule;
}

}  // namespace

void begin_stage(TrainingRun& run, const StageConfig& stage, const std::optional<TensorMap>& carried_optimizer_state) {
  const auto& p = run.position;
  const bool fresh = p.epoch == 0 && p.batch == 0 && p.stage_step == 0;
  const bool resumes_inside = run.resume_from && !fresh;
  if (fresh && stage.init != "previous") {
    const fs::path init = stage.init;
    const auto file = fs::is_directory(init) ? init / "model.safetensors" : init;
    models::load_weights(*run.model, file);
    spdlog::info("stage {}: starts from {}", stage.name, file.string());
  }
  const auto quantized = models::apply_quant_spec(*run.model, stage.quant);
  if (resumes_inside) quant::load_quantizer_state(*run.model, run.resume_from->quantizers, "resume checkpoint");
  if (run.group()) run.group()->broadcast(state_tensors(*run.model));

  run.optimizer = make_optimizer(run, stage);
  run.reducer.reset();
  if (run.group()) run.reducer = std::make_unique<GradientReducer>(run.trained, run.options.group);
  if (run.resume_from && (!fresh || !stage.reset_optimizer))
    load_adamw_state(*run.optimizer, run.resume_from->optimizer, "resume checkpoint optimizer state");
  else if (carried_optimizer_state && !stage.reset_optimizer)
    load_adamw_state(*run.optimizer, *carried_optimizer_state, "previous stage's optimizer state");

  run.schedule = stage_schedule(run, stage);
  run.ema.reset();
  if (run.config.optimizer.ema_decay > 0) {
    run.ema = std::make_unique<ModelEma>(*run.model, run.config.optimizer.ema_decay);
    if (resumes_inside && !run.resume_from->ema.empty()) run.ema->load(run.resume_from->ema, "resume checkpoint EMA");
  }
  run.diagnostics = quant::TernaryDiagnostics();
  if (resumes_inside) {
    std::map<std::string, torch::Tensor> codes;
    for (const auto& [layer, saved] : run.resume_from->diagnostics) codes[layer] = saved.to(run.options.device);
    run.diagnostics.restore(std::move(codes));
  }
  run.resume_from.reset();  // used up: later stages start fresh
  spdlog::info("stage {} ({}/{}): {} for {} epochs, {} quantized layers, peak lr {:.3g} (global batch {}), {} steps, {} AdamW",
               stage.name, p.stage + 1, run.config.stages.size(), quant::describe(stage.quant), stage.epochs, quantized.size(),
               run.schedule.peak_lr, run.global_batch(), run.schedule.total_steps,
               run.optimizer->fused() ? "fused" : "plain");
  if (run.reducer)
    spdlog::info("data parallel: {} ranks ({}), {} images per rank and batch, gradients in {} buckets", run.world_size(),
                 run.group()->backend_name(), run.config.data.batch_size, run.reducer->bucket_count());
}

}  // namespace tervit::engine
