#pragma once
// The run config of tervit-train, typed: one struct per section (model, data, augment, optimizer,
// distill, checkpoint, logging, runtime) and one per stage, each stage with its parsed QuantSpec. One
// reader validates the YAML tree against the schema once (core/config.h's machinery), checks what spans
// keys, and parses every value once; the trainer and the data set-up read fields, not strings.
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "models/registry.h"
#include "tervit/core/config.h"
#include "tervit/engine/losses.h"
#include "tervit/engine/mixed_precision.h"
#include "tervit/engine/progress.h"
#include "tervit/image/resize.h"
#include "tervit/quant/quant_spec.h"

namespace tervit::engine {

struct ModelSection {
  std::string name;
  models::ModelArchitecture architecture;
  nlohmann::ordered_json architecture_overrides;  // model.architecture as written, for checkpoint metadata
  std::string weights;
  bool drop_mismatched_head = false;
};

struct DataSection {
  std::filesystem::path root;
  std::string train_split, val_split;
  int64_t batch_size = 64;
  int64_t eval_batch_size = 0;  // 0: twice batch_size
  int workers = 2;
  int64_t repeated_aug = 1;
  double crop_pct = 0.875;
  image::Interpolation interpolation = image::Interpolation::kBicubic;
  std::array<float, 3> mean{}, std{};
};

struct AugmentSection {
  std::array<double, 2> scale{}, ratio{};
  double hflip = 0.5;
  std::string auto_augment;
  double color_jitter = 0, reprob = 0, mixup = 0, cutmix = 0, mixup_prob = 1, mixup_switch_prob = 0.5, smoothing = 0;
};

struct OptimizerSection {
  double eps = 1e-8;
  std::array<double, 2> betas{0.9, 0.999};
  double clip_grad = 0;
  int64_t accum_steps = 1;
  int64_t lr_base_batch = 512;
  double ema_decay = 0;
  int64_t max_nonfinite_skips = 0;
};

struct DistillSection {
  DistillType type = DistillType::kNone;
  std::optional<models::ModelArchitecture> teacher_architecture;  // distill.teacher_model (+ architecture)
  std::string teacher_weights;
  double alpha = 0.5, tau = 1.0;
};

enum class WriteErrorPolicy { kStop, kContinue };

struct CheckpointSection {
  int64_t every_steps = 0;
  int64_t keep_last = 2;
  WriteErrorPolicy on_write_error = WriteErrorPolicy::kStop;
};

struct LoggingSection {
  int64_t every_steps = 50;
  ProgressStyle progress = ProgressStyle::kAuto;
};

struct RuntimeSection {
  std::string device;
  int threads = 0;
  uint64_t seed = 0;
  std::string log_level;
  AmpMode amp = AmpMode::kNone;
  double dist_timeout_s = 600;
};

struct StageConfig {
  std::string name;
  int64_t epochs = 1;
  quant::QuantSpec quant;
  nlohmann::ordered_json quant_json;  // the stage's weight_quant and quant map as written, for checkpoint metadata
  std::string init;                   // "previous", a checkpoint folder or a safetensors weights file
  bool reset_optimizer = true;
  double lr = 0, warmup_epochs = 0, warmup_lr = 0, min_lr = 0, weight_decay = 0;
};

struct RunConfig {
  Config tree;  // the resolved YAML, defaults filled in: what the run folder records and resume compares
  ModelSection model;
  DataSection data;
  AugmentSection augment;
  OptimizerSection optimizer;
  DistillSection distill;
  CheckpointSection checkpoint;
  LoggingSection logging;
  RuntimeSection runtime;
  std::vector<StageConfig> stages;
};

// The schema of run configs: top-level keys, and the keys of each entry of `stages`.
const std::vector<KeySpec>& config_schema();
const std::vector<KeySpec>& stage_schema();

const NameTable<DistillType>& distill_type_names();
const NameTable<ProgressStyle>& progress_style_names();
const NameTable<WriteErrorPolicy>& write_error_policy_names();

// Validates `root` against the schema, fills defaults and parses every section. Throws tervit::Error
// naming the key for anything wrong.
RunConfig read_run_config(const YAML::Node& root);

// File + `--set` overrides -> run config; errors name the file.
RunConfig load_run_config(const std::filesystem::path& path, const std::vector<std::string>& overrides = {});

}  // namespace tervit::engine
