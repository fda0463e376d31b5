#include "tervit/engine/run_config.h"

#include <set>

#include "models/registry.h"
#include "tervit/core/error.h"
#include "tervit/core/strings.h"
#include "tervit/core/thread_budget.h"
#include "tervit/image/eval_crop.h"
#include "tervit/core/yaml_json.h"
#include "tervit/quant/quant_spec.h"

namespace tervit::engine {

namespace {

// Upper bounds of sizes and counts, far above any real run, so that an absurd value (a batch of 2^63
// images) is refused by name rather than overflowing or exhausting memory later; threads and workers
// take kMaxThreads.
constexpr double kMaxBatch = 1 << 20;
constexpr double kMaxEpochs = 1 << 20;
constexpr double kMaxWeekSeconds = 7 * 24 * 3600;

}  // namespace

const std::vector<KeySpec>& config_schema() {
  static const std::vector<KeySpec> schema{
      {"model.name", ValueType::kString, ""},
      {"model.architecture", ValueType::kMap, "{}"},
      {"model.weights", ValueType::kString, "''"},
      {"model.drop_mismatched_head", ValueType::kBool, "false"},
      {"data.root", ValueType::kString, "data/fashion_mnist"},
      {"data.train_split", ValueType::kString, "train"},
      {"data.val_split", ValueType::kString, "val"},
      {"data.batch_size", ValueType::kInt, "64", 1, kMaxBatch},
      {"data.eval_batch_size", ValueType::kInt, "0", 0, kMaxBatch},  // 0: twice batch_size
      {"data.workers", ValueType::kInt, "2", 0, kMaxThreads},
      {"data.repeated_aug", ValueType::kInt, "1", 1, 64},  // DeiT's repeated augmentation (3 in DeiT)
      {"data.crop_pct", ValueType::kFloat, "0.875", image::kMinCropPct, 1.0},
      {"data.interpolation", ValueType::kString, "bicubic"},
      {"data.mean", ValueType::kFloatList, "[0.485, 0.456, 0.406]"},
      {"data.std", ValueType::kFloatList, "[0.229, 0.224, 0.225]"},
      // timm's training transform and Mixup/CutMix, DeiT's defaults.
      {"augment.scale", ValueType::kFloatList, "[0.08, 1.0]"},
      {"augment.ratio", ValueType::kFloatList, "[0.75, 1.3333333333333333]"},
      {"augment.hflip", ValueType::kFloat, "0.5", 0, 1},
      {"augment.auto_augment", ValueType::kString, "rand-m9-mstd0.5-inc1"},
      {"augment.color_jitter", ValueType::kFloat, "0.4", 0},
      {"augment.reprob", ValueType::kFloat, "0.25", 0, 1},
      {"augment.mixup", ValueType::kFloat, "0.8", 0},
      {"augment.cutmix", ValueType::kFloat, "1.0", 0},
      {"augment.mixup_prob", ValueType::kFloat, "1.0", 0, 1},
      {"augment.mixup_switch_prob", ValueType::kFloat, "0.5", 0, 1},
      {"augment.smoothing", ValueType::kFloat, "0.1", 0, 0.999},
      {"optimizer.eps", ValueType::kFloat, "1e-8", 0},
      {"optimizer.betas", ValueType::kFloatList, "[0.9, 0.999]"},  // each in [0, 1)
      {"optimizer.clip_grad", ValueType::kFloat, "0", 0},      // max gradient norm; 0: no clipping
      {"optimizer.accum_steps", ValueType::kInt, "1", 1, kMaxBatch},      // batches per optimizer step
      {"optimizer.lr_base_batch", ValueType::kInt, "512", 0, kMaxBatch},  // lr x global batch / this; 0: lr as given
      {"optimizer.ema_decay", ValueType::kFloat, "0", 0, 1},   // EMA of weights; 0: off
      {"optimizer.max_nonfinite_skips", ValueType::kInt, "0", 0},  // NaN/Inf steps skipped before stopping
      {"distill.type", ValueType::kString, "none"},
      {"distill.teacher_model", ValueType::kString, "''"},
      {"distill.teacher_architecture", ValueType::kMap, "{}"},
      {"distill.teacher_weights", ValueType::kString, "''"},
      {"distill.alpha", ValueType::kFloat, "0.5", 0, 1},
      {"distill.tau", ValueType::kFloat, "1.0", 1e-6},
      {"checkpoint.every_steps", ValueType::kInt, "0", 0},  // also every N steps; 0: at epoch ends only
      {"checkpoint.keep_last", ValueType::kInt, "2", 1},
      // A failed checkpoint write (a full disk): stop the run (exit 1), or log it and train on.
      {"checkpoint.on_write_error", ValueType::kString, "stop"},
      {"logging.every_steps", ValueType::kInt, "50", 1},
      {"logging.progress", ValueType::kString, "auto"},
      {"runtime.device", ValueType::kString, "auto"},
      {"runtime.threads", ValueType::kInt, "0", 0, kMaxThreads},
      {"runtime.seed", ValueType::kInt, "0", 0},
      {"runtime.log_level", ValueType::kString, "info"},
      {"runtime.amp", ValueType::kString, "none"},
      // Data parallel: how long a rank waits for the others (rendezvous, each collective) before it
      // stops with an error; also bounds how long a rank may spend alone (rank 0 writing checkpoints).
      {"runtime.dist_timeout_s", ValueType::kFloat, "600", 1, kMaxWeekSeconds},
      {"stages", ValueType::kList, ""},
  };
  return schema;
}

const std::vector<KeySpec>& stage_schema() {
  static const std::vector<KeySpec> schema{
      {"name", ValueType::kString, ""},
      {"epochs", ValueType::kInt, "", 1, kMaxEpochs},
      {"weight_quant", ValueType::kString, "fp"},
      {"quant", ValueType::kMap, "{}"},
      // previous (the stage before, or model.weights for the first), or a checkpoint folder or a
      // safetensors weights file to start from.
      {"init", ValueType::kString, "previous"},
      {"reset_optimizer", ValueType::kBool, "true"},
      {"lr", ValueType::kFloat, "5e-4", 0},
      {"warmup_epochs", ValueType::kFloat, "0", 0},
      {"warmup_lr", ValueType::kFloat, "1e-6", 0},
      {"min_lr", ValueType::kFloat, "1e-5", 0},
      {"weight_decay", ValueType::kFloat, "0.05", 0},
  };
  return schema;
}

const NameTable<DistillType>& distill_type_names() {
  static const NameTable<DistillType> table{{"none", DistillType::kNone}, {"soft", DistillType::kSoft}, {"hard", DistillType::kHard}};
  return table;
}

const NameTable<ProgressStyle>& progress_style_names() {
  static const NameTable<ProgressStyle> table{{"auto", ProgressStyle::kAuto}, {"bar", ProgressStyle::kBar}, {"lines", ProgressStyle::kLines}};
  return table;
}

const NameTable<WriteErrorPolicy>& write_error_policy_names() {
  static const NameTable<WriteErrorPolicy> table{{"stop", WriteErrorPolicy::kStop}, {"continue", WriteErrorPolicy::kContinue}};
  return table;
}

namespace {

// Reads the values of one validated map (the config root or a stage) by key; types were checked by the schema.
// Errors name the key after `label` ("stages[1].").
class Reader {
 public:
  Reader(YAML::Node node, std::string label) : map_(std::move(node)), label_(std::move(label)) {}
  YAML::Node node(const std::string& dotted_key) const { return map_.node(dotted_key); }
  template <typename T>
  T get(const std::string& key) const {
    return map_.get<T>(key);
  }
  template <typename Enum>
  Enum choice(const std::string& key, const NameTable<Enum>& table) const {
    return table.parse(get<std::string>(key), label_ + key);
  }
  template <typename T, size_t N>
  std::array<T, N> array(const std::string& key, const std::string& expected) const {
    const auto values = get<std::vector<T>>(key);
    if (values.size() != N) throw Error(label_ + key + ": expected " + expected);
    std::array<T, N> result{};
    std::copy(values.begin(), values.end(), result.begin());
    return result;
  }

 private:
  Config map_;
  std::string label_;
};

void check_name(const std::string& name, const std::string& label, std::set<std::string>& used) {
  // Stage names become parts of checkpoint folder names ("best-<name>", "step-<n>-<name>"), which a file
  // system limits to 255 bytes.
  constexpr size_t kMaxNameLength = 64;
  if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string::npos)
    throw Error(label + "name: '" + abbreviated(name) + "' must be letters, digits and underscores");
  if (name.size() > kMaxNameLength)
    throw Error(label + "name: '" + abbreviated(name) + "' is longer than " + std::to_string(kMaxNameLength) + " characters");
  if (!used.insert(name).second) throw Error(label + "name: '" + name + "' is used by an earlier stage");
}

StageConfig read_stage(const YAML::Node& node, const std::string& label) {
  const Reader r(node, label);
  StageConfig s;
  s.quant = quant::quant_spec_from_yaml(node, label);
  s.name = r.get<std::string>("name");
  s.epochs = r.get<int64_t>("epochs");
  s.quant_json = {{"weight_quant", r.get<std::string>("weight_quant")}, {"quant", yaml_to_json(r.node("quant"))}};
  s.init = r.get<std::string>("init");
  s.reset_optimizer = r.get<bool>("reset_optimizer");
  s.lr = r.get<double>("lr");
  s.warmup_epochs = r.get<double>("warmup_epochs");
  s.warmup_lr = r.get<double>("warmup_lr");
  s.min_lr = r.get<double>("min_lr");
  s.weight_decay = r.get<double>("weight_decay");
  return s;
}

}  // namespace

RunConfig read_run_config(const YAML::Node& input) {
  YAML::Node root = YAML::Clone(input);
  validate_map(root, config_schema(), "", "");
  if (root["stages"].size() == 0) throw Error("stages: the stage list is empty; a run needs at least one stage");
  for (size_t i = 0; i < root["stages"].size(); ++i) {
    YAML::Node stage = root["stages"][i];
    const auto label = "stages[" + std::to_string(i) + "].";
    if (!stage.IsMap()) throw Error(label.substr(0, label.size() - 1) + ": each stage must be a map (name, epochs, ...)");
    validate_map(stage, stage_schema(), "", label);
  }
  const Reader r(root, "");
  RunConfig c{Config(root)};

  auto& model = c.model;
  model.name = r.get<std::string>("model.name");
  with_context("model.name", [&] { return models::model_architecture(model.name); });
  model.architecture = models::model_architecture(model.name, r.node("model.architecture"));
  model.architecture_overrides = yaml_to_json(r.node("model.architecture"));
  model.weights = r.get<std::string>("model.weights");
  model.drop_mismatched_head = r.get<bool>("model.drop_mismatched_head");

  auto& data = c.data;
  data.interpolation = r.choice("data.interpolation", image::interpolation_names());
  check_choice(c.tree, "runtime.log_level", {"trace", "debug", "info", "warn", "error", "off"});
  c.runtime.amp = r.choice("runtime.amp", amp_mode_names());
  c.distill.type = r.choice("distill.type", distill_type_names());
  c.logging.progress = r.choice("logging.progress", progress_style_names());
  c.checkpoint.on_write_error = r.choice("checkpoint.on_write_error", write_error_policy_names());
  c.distill.teacher_weights = r.get<std::string>("distill.teacher_weights");
  if (c.distill.type != DistillType::kNone && c.distill.teacher_weights.empty())
    throw Error("distill.teacher_weights: distillation needs the teacher's safetensors weights");
  const auto pair = [&](const char* key, bool ordered) {
    const auto values = r.array<double, 2>(key, "[low, high]");
    if (ordered && values[0] > values[1]) throw Error(std::string(key) + ": expected [low, high]");
    return values;
  };
  c.augment.scale = pair("augment.scale", true);
  c.augment.ratio = pair("augment.ratio", true);
  c.optimizer.betas = pair("optimizer.betas", false);
  for (const double beta : c.optimizer.betas)
    if (beta < 0 || beta >= 1) throw Error("optimizer.betas: " + std::to_string(beta) + " is out of range, expected [0, 1)");
  std::set<std::string> stage_names;
  for (size_t i = 0; i < root["stages"].size(); ++i) {
    const auto label = "stages[" + std::to_string(i) + "].";
    c.stages.push_back(read_stage(root["stages"][i], label));
    check_name(c.stages.back().name, label, stage_names);
  }
  data.mean = r.array<float, 3>("data.mean", "3 values (one per RGB channel)");
  data.std = r.array<float, 3>("data.std", "3 values (one per RGB channel)");

  data.root = r.get<std::string>("data.root");
  data.train_split = r.get<std::string>("data.train_split");
  data.val_split = r.get<std::string>("data.val_split");
  data.batch_size = r.get<int64_t>("data.batch_size");
  data.eval_batch_size = r.get<int64_t>("data.eval_batch_size");
  data.workers = r.get<int>("data.workers");
  data.repeated_aug = r.get<int64_t>("data.repeated_aug");
  data.crop_pct = r.get<double>("data.crop_pct");

  auto& augment = c.augment;
  augment.hflip = r.get<double>("augment.hflip");
  augment.auto_augment = r.get<std::string>("augment.auto_augment");
  augment.color_jitter = r.get<double>("augment.color_jitter");
  augment.reprob = r.get<double>("augment.reprob");
  augment.mixup = r.get<double>("augment.mixup");
  augment.cutmix = r.get<double>("augment.cutmix");
  augment.mixup_prob = r.get<double>("augment.mixup_prob");
  augment.mixup_switch_prob = r.get<double>("augment.mixup_switch_prob");
  augment.smoothing = r.get<double>("augment.smoothing");

  auto& optimizer = c.optimizer;
  optimizer.eps = r.get<double>("optimizer.eps");
  optimizer.clip_grad = r.get<double>("optimizer.clip_grad");
  optimizer.accum_steps = r.get<int64_t>("optimizer.accum_steps");
  optimizer.lr_base_batch = r.get<int64_t>("optimizer.lr_base_batch");
  optimizer.ema_decay = r.get<double>("optimizer.ema_decay");
  optimizer.max_nonfinite_skips = r.get<int64_t>("optimizer.max_nonfinite_skips");

  auto& distill = c.distill;
  distill.alpha = r.get<double>("distill.alpha");
  distill.tau = r.get<double>("distill.tau");
  const auto teacher_model = r.get<std::string>("distill.teacher_model");
  if (distill.type != DistillType::kNone && !teacher_model.empty())
    distill.teacher_architecture = with_context("distill.teacher_model", [&] {
      return models::model_architecture(teacher_model, r.node("distill.teacher_architecture"));
    });

  c.checkpoint.every_steps = r.get<int64_t>("checkpoint.every_steps");
  c.checkpoint.keep_last = r.get<int64_t>("checkpoint.keep_last");
  c.logging.every_steps = r.get<int64_t>("logging.every_steps");

  auto& runtime = c.runtime;
  runtime.device = r.get<std::string>("runtime.device");
  runtime.threads = r.get<int>("runtime.threads");
  runtime.seed = r.get<uint64_t>("runtime.seed");
  runtime.log_level = r.get<std::string>("runtime.log_level");
  runtime.dist_timeout_s = r.get<double>("runtime.dist_timeout_s");
  return c;
}

RunConfig load_run_config(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  auto root = load_yaml_file(path);
  for (const auto& assignment : overrides) apply_override(root, assignment);
  return with_context(path.string(), [&] { return read_run_config(root); });
}

}  // namespace tervit::engine
