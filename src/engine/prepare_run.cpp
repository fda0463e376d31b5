// The trainer's constructor: everything a run needs is checked, and its start found, before anything is written.
#include <spdlog/spdlog.h>

#include "models/model_metadata.h"
#include "models/pretrained.h"
#include "tervit/core/config.h"
#include "tervit/core/error.h"
#include "tervit/image/normalize_planes.h"
#include "tervit/libtorch/state_dict.h"
#include "src/engine/training_run.h"

namespace tervit::engine {

namespace fs = std::filesystem;

namespace {

// Keys a resumed run may change: where and how fast it runs, and what it logs and keeps.
const std::vector<std::string> kResumableKeys{"runtime.device", "runtime.threads", "runtime.log_level", "runtime.dist_timeout_s",
                                              "data.workers", "data.eval_batch_size", "logging", "checkpoint"};

void check_stage_inits(const std::vector<StageConfig>& stages) {
  for (size_t i = 0; i < stages.size(); ++i) {
    const auto& init = stages[i].init;
    if (init != "previous" && !fs::exists(init))
      throw Error("stages[" + std::to_string(i) + "].init: " + init +
                  " does not exist (expected 'previous', a checkpoint folder or a safetensors file)");
  }
}

// The checkpoint a run continues from: --resume's folder, the newest step checkpoint with --resume auto,
// none for a new run, which must not overwrite an earlier run's output (a folder holding only best-*
// checkpoints included).
fs::path resume_folder(const TrainingRun& run) {
  const auto existing = step_checkpoints(run.checkpoints_dir());
  if (!run.options.resume.empty() && run.options.resume != "auto") return run.options.resume;
  if (run.options.resume == "auto" && !existing.empty()) return existing.back();
  const auto& folders = run.checkpoints_seen;
  if (folders.empty()) return {};
  if (run.options.resume == "auto")
    throw Error("run folder " + run.options.run_dir.string() + " holds checkpoints (" + folders.front().string() +
                ") but no step checkpoint to continue from; choose another --output");
  throw Error("run folder " + run.options.run_dir.string() + " already holds checkpoints (" + folders.front().string() +
              "); continue it with --resume auto, or choose another --output");
}

void resume(TrainingRun& run, const fs::path& folder) {
  run.resume_from = read_checkpoint(folder);
  const auto saved = parse_yaml_config(run.resume_from->config_yaml, (folder / "config.yaml").string());
  if (const auto key = first_difference(saved, run.config.tree.root(), kResumableKeys))
    throw Error("--resume " + folder.string() + ": the checkpoint belongs to a run with another config (" + *key +
                " differs); resume with the config it was written with, or start a new run folder");
  run.position = run.resume_from->state;
  if (run.position.world_size != run.world_size())
    throw Error("--resume " + folder.string() + ": the checkpoint was trained by " + std::to_string(run.position.world_size) +
                " data-parallel processes, this run has " + std::to_string(run.world_size()) +
                "; resume with the same number (its data position and global batch depend on it)");
  const auto& stages = run.config.stages;
  if (run.position.stage > static_cast<int64_t>(stages.size()) ||
      (run.position.stage < static_cast<int64_t>(stages.size()) && run.position.epoch > stages[run.position.stage].epochs))
    throw Error(folder.string() + ": trainer state points past the config's stages");
  load_state_dict(*run.model, run.resume_from->model, {}, (folder / "model.safetensors").string());
  run.scaler.restore(run.position.loss_scale);
}

void load_initial_weights(TrainingRun& run) {
  const auto& model = run.config.model;
  models::WeightsOptions weights;
  weights.drop_mismatched_head = model.drop_mismatched_head;
  const auto report = with_context("model.weights", [&] { return models::load_weights(*run.model, model.weights, weights); });
  if (!report.dropped.empty())
    spdlog::info("model.weights: {} classifier tensors dropped (class count differs); the head starts fresh", report.dropped.size());
}

// The teacher's architecture: its weights' metadata, else distill.teacher_model (+ architecture), else the student's.
void load_teacher(TrainingRun& run) {
  const auto& distill = run.config.distill;
  const auto teacher_weights = with_context("distill.teacher_weights", [&] { return read_safetensors(distill.teacher_weights); });
  auto architecture = models::architecture_from_metadata(teacher_weights.metadata);
  if (distill.teacher_architecture) architecture = distill.teacher_architecture;
  run.teacher = models::create_model(architecture ? *architecture : run.config.model.architecture);
  image::check_takes_rgb(run.teacher->in_chans(), "distill.teacher_weights");
  models::load_weights(*run.teacher, teacher_weights, distill.teacher_weights);
  if (run.teacher->num_classes() != run.model->num_classes())
    throw Error("distill.teacher_weights: the teacher has " + std::to_string(run.teacher->num_classes()) + " classes, the model " +
                std::to_string(run.model->num_classes()));
  run.teacher->to(run.options.device);
  run.teacher->eval();
  if (run.group()) run.group()->broadcast(state_tensors(*run.teacher));
}

// Every rank must continue the same run: one that does not see rank 0's checkpoints (run folder not on a
// shared file system) would train from another start.
void check_ranks_start_alike(TrainingRun& run) {
  auto* group = run.group();
  const int64_t own = run.resume_from ? run.position.global_step : -1;
  auto rank0 = torch::tensor({own}, torch::kInt64).to(group->device());
  group->broadcast({rank0});
  const int64_t rank0_step = rank0.cpu().item<int64_t>();
  auto differs = torch::tensor({rank0_step != own ? 1.0 : 0.0}, torch::kFloat64).to(group->device());
  group->all_reduce_sum(differs).wait();
  const auto describe = [](int64_t step) { return step < 0 ? std::string("none") : "step " + std::to_string(step); };
  if (differs.cpu().item<double>() > 0)
    throw Error("the ranks do not resume from the same checkpoint (rank " + std::to_string(run.rank()) + ": " + describe(own) +
                ", rank 0: " + describe(rank0_step) + "); every rank must see the run folder " + run.options.run_dir.string() +
                " (a shared file system)");
}

}  // namespace

void prepare_run(TrainingRun& run) {
  const auto& config = run.config;
  check_stage_inits(config.stages);
  if (config.runtime.amp != AmpMode::kNone && !run.options.device.is_cuda())
    spdlog::warn("runtime.amp: {} applies on CUDA only; this run trains in fp32 on {}", amp_mode_names().name(config.runtime.amp),
                 run.options.device.str());
  run.scaler = LossScaler(config.runtime.amp == AmpMode::kFp16 && run.options.device.is_cuda());

  torch::manual_seed(config.runtime.seed);
  run.model = models::create_model(config.model.architecture);
  image::check_takes_rgb(run.model->in_chans(), "model.architecture.in_chans");
  run.data = make_train_data(config, run.model->num_classes(), run.model->img_size(), Sharding{run.rank(), run.world_size()},
                             run.options.device.is_cuda());

  run.checkpoints_seen = checkpoint_folders(run.checkpoints_dir());
  if (const auto folder = resume_folder(run); !folder.empty()) resume(run, folder);
  else if (!config.model.weights.empty()) load_initial_weights(run);
  run.model->to(run.options.device);

  if (config.distill.type != DistillType::kNone) load_teacher(run);
  if (run.group()) check_ranks_start_alike(run);
}

}  // namespace tervit::engine
