#include "tervit/engine/trainer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "models/deit.h"
#include "models/pretrained.h"
#include "models/registry.h"
#include "tervit/core/app.h"
#include "tervit/core/atomic_file.h"
#include "tervit/core/error.h"
#include "tervit/core/runtime.h"
#include "tervit/core/state_dict.h"
#include "tervit/core/thread_budget.h"
#include "tervit/core/yaml_json.h"
#include "tervit/data/random.h"
#include "tervit/engine/checkpoint.h"
#include "tervit/engine/evaluate.h"
#include "tervit/engine/gradient_reducer.h"
#include "tervit/engine/losses.h"
#include "tervit/engine/lr_schedule.h"
#include "tervit/engine/metrics_log.h"
#include "tervit/engine/mixed_precision.h"
#include "tervit/engine/model_ema.h"
#include "tervit/engine/optimizer_state.h"
#include "tervit/engine/param_groups.h"
#include "tervit/engine/progress.h"
#include "tervit/engine/stop_signal.h"
#include "tervit/quant/diagnostics.h"
#include "tervit/quant/quant_layers.h"
#include "tervit/quant/quant_spec.h"
#include "tervit/quant/quantizer_state.h"

namespace tervit::engine {

namespace fs = std::filesystem;

namespace {

// Keys a resumed run may change: where and how fast it runs, and what it logs and keeps.
const std::vector<std::string> kResumableKeys{"runtime.device", "runtime.threads", "runtime.log_level", "runtime.dist_timeout_s",
                                              "data.workers", "data.eval_batch_size", "logging", "checkpoint"};

struct Stage {
  std::string name;
  int64_t epochs = 1;
  quant::QuantSpec quant;
  nlohmann::ordered_json quant_json;  // the stage's weight_quant and quant map, for checkpoint metadata
  std::string init;
  bool reset_optimizer = true;
  double lr = 0, warmup_epochs = 0, warmup_lr = 0, min_lr = 0, weight_decay = 0;
};

std::vector<Stage> read_stages(const Config& config) {
  std::vector<Stage> stages;
  const auto nodes = config.node("stages");
  for (size_t i = 0; i < nodes.size(); ++i) {
    const auto node = nodes[i];
    Stage s;
    s.name = node["name"].as<std::string>();
    s.epochs = node["epochs"].as<int64_t>();
    s.quant = quant::quant_spec_from_yaml(node, "stages[" + std::to_string(i) + "].");
    s.quant_json = {{"weight_quant", node["weight_quant"].as<std::string>()}, {"quant", yaml_to_json(node["quant"])}};
    s.init = node["init"].as<std::string>();
    s.reset_optimizer = node["reset_optimizer"].as<bool>();
    s.lr = node["lr"].as<double>();
    s.warmup_epochs = node["warmup_epochs"].as<double>();
    s.warmup_lr = node["warmup_lr"].as<double>();
    s.min_lr = node["min_lr"].as<double>();
    s.weight_decay = node["weight_decay"].as<double>();
    if (s.init != "previous" && !fs::exists(s.init))
      throw Error("stages[" + std::to_string(i) + "].init: " + s.init + " does not exist (expected 'previous', a checkpoint folder or a safetensors file)");
    stages.push_back(std::move(s));
  }
  return stages;
}

std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

// Metrics hold plain numbers; rounding keeps the log readable without hiding run differences.
double round_to(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

// Everything that must start equal on every rank: parameters, buffers and the quantizers' tensors.
std::vector<torch::Tensor> state_tensors(torch::nn::Module& model) {
  auto tensors = model.parameters();
  for (const auto& buffer : model.buffers()) tensors.push_back(buffer);
  for (const auto& quantizer : quant::quantizer_parameters(model)) tensors.push_back(quantizer);
  return tensors;
}

// The mean over the ranks of a micro-batch's loss. It is not finite when any rank's is not, so that
// every rank skips the same steps, or stops at the same one.
double mean_over_ranks(ProcessGroup* group, double value) {
  if (group == nullptr) return value;
  auto sum = torch::tensor({value}, torch::kFloat64).to(group->device());
  group->all_reduce_sum(sum).wait();
  return sum.cpu().item<double>() / static_cast<double>(group->world_size());
}

// The stop signal (SIGINT/SIGTERM) when any rank received one, so that every rank stops after the same
// step; 0 when none did.
int agreed_stop_signal(ProcessGroup* group) {
  const int signal = stop_requested();
  if (group == nullptr) return signal;
  auto received = torch::tensor({signal != 0 ? 1.0 : 0.0, static_cast<double>(signal)}, torch::kFloat64).to(group->device());
  group->all_reduce_sum(received).wait();
  received = received.cpu();
  const double ranks = received[0].item<double>();
  return ranks == 0 ? 0 : static_cast<int>(std::lround(received[1].item<double>() / ranks));
}

}  // namespace

struct Trainer::State {
  Config config;
  TrainerOptions options;
  std::vector<Stage> stages;
  models::ModelArchitecture architecture;
  models::VisionModel model;
  models::VisionModel teacher;  // null without distillation
  DistillType distill = DistillType::kNone;
  double distill_alpha = 0.5, distill_tau = 1.0;
  TrainData data;
  std::optional<Checkpoint> resume_from;
  TrainerState position;
  AmpMode amp = AmpMode::kNone;
  LossScaler scaler{false};

  // Per stage.
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::vector<torch::Tensor> trained;  // every tensor the optimizer updates
  LrScheduleOptions schedule;
  std::unique_ptr<ModelEma> ema;
  quant::TernaryDiagnostics diagnostics;
  std::unique_ptr<MetricsLog> metrics;  // rank 0's only
  std::unique_ptr<GradientReducer> reducer;  // data parallel only

  State(Config c, TrainerOptions o) : config(std::move(c)), options(std::move(o)) {}
  fs::path checkpoints_dir() const { return options.run_dir / "checkpoints"; }
  ProcessGroup* group() const { return options.group.get(); }
  int64_t rank() const { return options.group ? options.group->rank() : 0; }
  int64_t world_size() const { return options.group ? options.group->world_size() : 1; }
  bool writes_run_folder() const { return rank() == 0; }
  int64_t accum_steps() const { return config.get<int64_t>("optimizer.accum_steps"); }
  int64_t steps_per_epoch() const {
    return (data.train_loader->batches_per_epoch() + accum_steps() - 1) / accum_steps();
  }
};

Trainer::Trainer(Config config, TrainerOptions options) : s_(std::make_unique<State>(std::move(config), std::move(options))) {
  auto& s = *s_;
  s.stages = read_stages(s.config);
  s.amp = parse_amp_mode(s.config.get<std::string>("runtime.amp"));
  if (s.amp != AmpMode::kNone && !s.options.device.is_cuda())
    spdlog::warn("runtime.amp: {} applies on CUDA only; this run trains in fp32 on {}", s.config.get<std::string>("runtime.amp"),
                 s.options.device.str());
  s.scaler = LossScaler(s.amp == AmpMode::kFp16 && s.options.device.is_cuda());

  s.architecture = models::model_architecture(s.config.get<std::string>("model.name"), s.config.node("model.architecture"));
  torch::manual_seed(s.config.get<uint64_t>("runtime.seed"));
  s.model = models::create_model(s.architecture);
  s.data = make_train_data(s.config, s.model->num_classes(), s.model->img_size(), Sharding{s.rank(), s.world_size()},
                           s.options.device.is_cuda());

  // Where the run starts: a checkpoint, or the beginning.
  const auto existing = step_checkpoints(s.checkpoints_dir());
  fs::path resume_folder;
  if (s.options.resume == "auto") {
    if (!existing.empty()) resume_folder = existing.back();
  } else if (!s.options.resume.empty()) {
    resume_folder = s.options.resume;
  } else if (!existing.empty()) {
    throw Error("run folder " + s.options.run_dir.string() + " already holds checkpoints (" + existing.back().string() +
                "); continue it with --resume auto, or choose another --output");
  }
  if (!resume_folder.empty()) {
    s.resume_from = read_checkpoint(resume_folder);
    YAML::Node saved;
    try {
      saved = YAML::Load(s.resume_from->config_yaml);
    } catch (const YAML::Exception& e) {
      throw Error((resume_folder / "config.yaml").string() + ": invalid YAML: " + e.msg);
    }
    if (const auto key = first_difference(saved, s.config.root(), kResumableKeys))
      throw Error("--resume " + resume_folder.string() + ": the checkpoint belongs to a run with another config (" + *key +
                  " differs); resume with the config it was written with, or start a new run folder");
    s.position = s.resume_from->state;
    if (s.position.world_size != s.world_size())
      throw Error("--resume " + resume_folder.string() + ": the checkpoint was trained by " + std::to_string(s.position.world_size) +
                  " data-parallel processes, this run has " + std::to_string(s.world_size()) +
                  "; resume with the same number (its data position and global batch depend on it)");
    if (s.position.stage > static_cast<int64_t>(s.stages.size()) ||
        (s.position.stage < static_cast<int64_t>(s.stages.size()) && s.position.epoch > s.stages[s.position.stage].epochs))
      throw Error(resume_folder.string() + ": trainer state points past the config's stages");
    load_state_dict(*s.model, s.resume_from->model, {}, (resume_folder / "model.safetensors").string());
    s.scaler.restore(s.position.loss_scale);
  } else if (!s.config.get<std::string>("model.weights").empty()) {
    models::WeightsOptions weights;
    weights.drop_mismatched_head = s.config.get<bool>("model.drop_mismatched_head");
    const auto report = with_context("model.weights", [&] {
      return models::load_weights(*s.model, s.config.get<std::string>("model.weights"), weights);
    });
    if (!report.dropped.empty())
      spdlog::info("model.weights: {} classifier tensors dropped (class count differs); the head starts fresh",
                   report.dropped.size());
  }
  s.model->to(s.options.device);

  const auto distill = s.config.get<std::string>("distill.type");
  if (distill != "none") {
    s.distill = distill == "soft" ? DistillType::kSoft : DistillType::kHard;
    s.distill_alpha = s.config.get<double>("distill.alpha");
    s.distill_tau = s.config.get<double>("distill.tau");
    // The teacher's architecture: its weights' metadata, else distill.teacher_model (+ architecture), else the student's.
    const auto teacher_file = s.config.get<std::string>("distill.teacher_weights");
    const auto teacher_weights = with_context("distill.teacher_weights", [&] { return read_safetensors(teacher_file); });
    const auto teacher_name = s.config.get<std::string>("distill.teacher_model");
    auto teacher_architecture = models::architecture_from_metadata(teacher_weights.metadata);
    if (!teacher_name.empty())
      teacher_architecture = models::model_architecture(teacher_name, s.config.node("distill.teacher_architecture"));
    s.teacher = models::create_model(teacher_architecture ? *teacher_architecture : s.architecture);
    models::load_weights(*s.teacher, teacher_weights, teacher_file);
    if (s.teacher->num_classes() != s.model->num_classes())
      throw Error("distill.teacher_weights: the teacher has " + std::to_string(s.teacher->num_classes()) +
                  " classes, the model " + std::to_string(s.model->num_classes()));
    s.teacher->to(s.options.device);
    s.teacher->eval();
    if (s.group()) s.group()->broadcast(state_tensors(*s.teacher));
  }
  if (s.group()) {
    // Every rank must continue the same run: one that does not see rank 0's checkpoints (run folder not
    // on a shared file system) would train from another start.
    const int64_t own = s.resume_from ? s.position.global_step : -1;
    auto rank0 = torch::tensor({own}, torch::kInt64).to(s.group()->device());
    s.group()->broadcast({rank0});
    const int64_t rank0_step = rank0.cpu().item<int64_t>();
    auto differs = torch::tensor({rank0_step != own ? 1.0 : 0.0}, torch::kFloat64).to(s.group()->device());
    s.group()->all_reduce_sum(differs).wait();
    const auto describe = [](int64_t step) { return step < 0 ? std::string("none") : "step " + std::to_string(step); };
    if (differs.cpu().item<double>() > 0)
      throw Error("the ranks do not resume from the same checkpoint (rank " + std::to_string(s.rank()) + ": " + describe(own) +
                  ", rank 0: " + describe(rank0_step) + "); every rank must see the run folder " + s.options.run_dir.string() +
                  " (a shared file system)");
  }
}

Trainer::~Trainer() = default;

int Trainer::run() {
  auto& s = *s_;
  const auto& config = s.config;
  if (s.writes_run_folder()) {
    fs::create_directories(s.checkpoints_dir());
    write_file_atomically(s.options.run_dir / "config.yaml", config.dump());
    add_log_file(s.options.run_dir / "train.log");
    s.metrics = std::make_unique<MetricsLog>(s.options.run_dir / "metrics.jsonl", s.resume_from ? s.position.metrics_bytes : 0);
  }
  install_stop_handlers();
  Progress progress(config.get<std::string>("logging.progress") == "bar"     ? ProgressStyle::kBar
                    : config.get<std::string>("logging.progress") == "lines" ? ProgressStyle::kLines
                                                                              : ProgressStyle::kAuto,
                    config.get<int64_t>("logging.every_steps"));
  const auto seed = config.get<uint64_t>("runtime.seed");
  const auto log_every = config.get<int64_t>("logging.every_steps");
  const auto checkpoint_every = config.get<int64_t>("checkpoint.every_steps");
  const auto keep_last = config.get<int64_t>("checkpoint.keep_last");
  const auto clip_grad = config.get<double>("optimizer.clip_grad");
  const auto max_skips = config.get<int64_t>("optimizer.max_nonfinite_skips");
  const auto smoothing = config.get<double>("augment.smoothing");
  const auto ema_decay = config.get<double>("optimizer.ema_decay");
  const auto betas = config.get<std::vector<double>>("optimizer.betas");
  const int64_t global_batch = config.get<int64_t>("data.batch_size") * s.accum_steps() * s.world_size();
  auto* distilled_deit = dynamic_cast<models::DeiTImpl*>(s.model.get());
  const bool distill_token = distilled_deit != nullptr && distilled_deit->options().distilled();
  if (s.resume_from) spdlog::info("resuming at stage {} epoch {} batch {} (step {})", s.position.stage, s.position.epoch,
                                  s.position.batch, s.position.global_step);

  const auto make_checkpoint = [&](const Stage& stage, const TrainerState& position) {
    Checkpoint c;
    c.model = module_state_dict(*s.model);
    c.model_metadata = {{"format", "pt"},
                        {"family", config.get<std::string>("model.name")},
                        {"config", yaml_to_json(config.node("model.architecture")).dump()},
                        {"quant", stage.quant_json.dump()},
                        {"stage", stage.name}};
    c.quantizers = quant::quantizer_state(*s.model);
    c.optimizer = adamw_state(*s.optimizer);
    if (s.ema) c.ema = s.ema->weights();
    for (const auto& [layer, codes] : s.diagnostics.previous_codes()) c.diagnostics[layer] = codes.cpu();
    c.state = position;
    c.state.metrics_bytes = s.metrics->bytes();
    c.state.loss_scale = s.scaler.scale();
    c.state.world_size = s.world_size();
    c.config_yaml = config.dump();
    return c;
  };
  // A failed write (a full disk) leaves the checkpoints written before it usable; checkpoint.on_write_error
  // says whether the run stops there (exit 1) or trains on. Returns whether the checkpoint was written.
  // Rank 0 alone writes; the other ranks count it as written.
  const bool continue_on_write_error = config.get<std::string>("checkpoint.on_write_error") == "continue";
  const auto save = [&](const Stage& stage, const TrainerState& position, const fs::path& folder) {
    if (!s.writes_run_folder()) return true;
    try {
      if (fs::exists(folder)) replace_checkpoint(folder, make_checkpoint(stage, position));
      else write_checkpoint(folder, make_checkpoint(stage, position));
      return true;
    } catch (const Error& e) {
      if (!continue_on_write_error)
        throw std::runtime_error(std::string("checkpoint write failed, earlier checkpoints are intact; stopping "
                                             "(checkpoint.on_write_error: stop): ") + e.what());
      spdlog::error("checkpoint write failed, earlier checkpoints are intact; training continues "
                    "(checkpoint.on_write_error: continue): {}", e.what());
      return false;
    }
  };
  const auto save_step_checkpoint = [&](const Stage& stage, const TrainerState& position) -> std::optional<fs::path> {
    const auto folder = s.checkpoints_dir() / checkpoint_name(position.global_step);
    const bool written = save(stage, position, folder);
    if (s.writes_run_folder()) prune_checkpoints(s.checkpoints_dir(), keep_last);
    return written ? std::optional(folder) : std::nullopt;
  };

  int64_t data_epoch = 0;  // epochs of all stages so far: each has its own sample order
  for (int64_t i = 0; i < s.position.stage && i < static_cast<int64_t>(s.stages.size()); ++i) data_epoch += s.stages[i].epochs;
  std::optional<TensorMap> carried_optimizer_state;  // a stage that keeps the optimizer state gets it from here

  for (; s.position.stage < static_cast<int64_t>(s.stages.size()); ++s.position.stage) {
    const auto& stage = s.stages[s.position.stage];
    const bool fresh = s.position.epoch == 0 && s.position.batch == 0 && s.position.stage_step == 0;
    if (fresh && stage.init != "previous") {
      const fs::path init = stage.init;
      const auto file = fs::is_directory(init) ? init / "model.safetensors" : init;
      models::load_weights(*s.model, file);
      spdlog::info("stage {}: starts from {}", stage.name, file.string());
    }
    const auto quantized = quant::apply_quant_spec(*s.model, stage.quant);
    if (s.resume_from && !fresh) quant::load_quantizer_state(*s.model, s.resume_from->quantizers, "resume checkpoint");
    if (s.group()) s.group()->broadcast(state_tensors(*s.model));

    auto groups = adamw_param_groups(*s.model, stage.weight_decay);
    const auto quantizer_tensors = quant::quantizer_parameters(*s.model);
    if (!quantizer_tensors.empty())
      groups.emplace_back(quantizer_tensors, std::make_unique<torch::optim::AdamWOptions>(
                                                 torch::optim::AdamWOptions().weight_decay(0)));
    s.trained.clear();
    for (const auto& group : groups) s.trained.insert(s.trained.end(), group.params().begin(), group.params().end());
    torch::optim::AdamWOptions defaults(stage.lr);
    defaults.betas({betas[0], betas[1]}).eps(config.get<double>("optimizer.eps")).weight_decay(stage.weight_decay);
    for (auto& group : groups)
      if (group.has_options()) {
        auto& o = static_cast<torch::optim::AdamWOptions&>(group.options());
        o.betas(defaults.betas()).eps(defaults.eps());
      }
    s.optimizer = std::make_unique<torch::optim::AdamW>(std::move(groups), defaults);
    s.reducer.reset();
    if (s.group()) s.reducer = std::make_unique<GradientReducer>(s.trained, s.options.group);
    if (s.resume_from && (!fresh || !stage.reset_optimizer))
      load_adamw_state(*s.optimizer, s.resume_from->optimizer, "resume checkpoint optimizer state");
    else if (carried_optimizer_state && !stage.reset_optimizer)
      load_adamw_state(*s.optimizer, *carried_optimizer_state, "previous stage's optimizer state");

    const double scale = scaled_lr(1.0, global_batch, config.get<int64_t>("optimizer.lr_base_batch"));
    s.schedule.peak_lr = stage.lr * scale;
    s.schedule.min_lr = stage.min_lr * scale;
    s.schedule.warmup_lr = stage.warmup_lr * scale;
    s.schedule.warmup_steps = static_cast<int64_t>(std::llround(stage.warmup_epochs * static_cast<double>(s.steps_per_epoch())));
    s.schedule.total_steps = stage.epochs * s.steps_per_epoch();
    s.ema.reset();
    if (ema_decay > 0) {
      s.ema = std::make_unique<ModelEma>(*s.model, ema_decay);
      if (s.resume_from && !fresh && !s.resume_from->ema.empty()) s.ema->load(s.resume_from->ema, "resume checkpoint EMA");
    }
    s.diagnostics = quant::TernaryDiagnostics();
    if (s.resume_from && !fresh) {
      std::map<std::string, torch::Tensor> codes;
      for (const auto& [layer, saved] : s.resume_from->diagnostics) codes[layer] = saved.to(s.options.device);
      s.diagnostics.restore(std::move(codes));
    }
    s.resume_from.reset();  // used up: later stages start fresh
    spdlog::info("stage {} ({}/{}): {} for {} epochs, {} quantized layers, peak lr {:.3g} (global batch {}), {} steps",
                 stage.name, s.position.stage + 1, s.stages.size(), quant::describe(stage.quant), stage.epochs,
                 quantized.size(), s.schedule.peak_lr, global_batch, s.schedule.total_steps);
    if (s.reducer)
      spdlog::info("data parallel: {} ranks ({}), {} images per rank and batch, gradients in {} buckets", s.world_size(),
                   s.group()->backend_name(), config.get<int64_t>("data.batch_size"), s.reducer->bucket_count());

    for (; s.position.epoch < stage.epochs; ++s.position.epoch) {
      auto& loader = *s.data.train_loader;
      const int64_t batches = loader.batches_per_epoch();
      loader.start_epoch(data_epoch + s.position.epoch, s.position.batch);
      s.model->train();
      auto& p = s.position;
      int64_t interval_images = 0;
      bool group_skipped = false;
      auto interval_start = std::chrono::steady_clock::now();
      const auto label = stage.name + " " + std::to_string(s.position.epoch + 1) + "/" + std::to_string(stage.epochs);
      while (auto batch = loader.next()) {
        adapt_threads();
        const int64_t b = s.position.batch;
        const bool group_start = b % s.accum_steps() == 0;
        const bool group_end = (b + 1) % s.accum_steps() == 0 || b + 1 == batches;
        if (group_start) {
          s.optimizer->zero_grad();
          group_skipped = false;
        }
        // Dropout and drop path draw from a generator seeded per batch, so a resumed run draws the same;
        // each rank of a data-parallel run draws its own.
        const auto step_seed = static_cast<uint64_t>(s.position.global_step);
        torch::manual_seed(s.group() ? data::mix_seed({seed, step_seed, static_cast<uint64_t>(b), static_cast<uint64_t>(s.rank())})
                                     : data::mix_seed({seed, step_seed, static_cast<uint64_t>(b)}));
        const auto images = batch->images.to(s.options.device, /*non_blocking=*/true);
        const auto labels = batch->labels.to(s.options.device, true);
        torch::Tensor loss;
        {
          AutocastScope autocast(s.amp, s.options.device);
          torch::Tensor logits, distill_logits;
          if (distill_token) {
            std::tie(logits, distill_logits) = distilled_deit->forward_head_distilled(s.model->head_features(images));
          } else {
            logits = s.model->forward(images);
            distill_logits = logits;
          }
          logits = logits.to(torch::kFloat32);
          loss = batch->targets.defined() ? soft_target_cross_entropy(logits, batch->targets.to(s.options.device, true))
                                          : smoothed_cross_entropy(logits, labels, smoothing);
          if (s.teacher) {
            torch::Tensor teacher_logits;
            {
              torch::NoGradGuard no_grad;
              teacher_logits = s.teacher->forward(images).to(torch::kFloat32);
            }
            loss = loss * (1.0 - s.distill_alpha) +
                   distillation_loss(distill_logits.to(torch::kFloat32), teacher_logits, s.distill, s.distill_tau) * s.distill_alpha;
          }
        }
        const double loss_value = mean_over_ranks(s.group(), loss.item<double>());
        if (!std::isfinite(loss_value)) {
          const auto where = "stage '" + stage.name + "' epoch " + std::to_string(s.position.epoch + 1) + " step " +
                             std::to_string(s.position.global_step + 1) + " (batch " + std::to_string(b) + ")";
          if (s.position.nonfinite_skips >= max_skips) {
            const auto kept = step_checkpoints(s.checkpoints_dir());
            throw std::runtime_error("loss is " + std::string(std::isnan(loss_value) ? "NaN" : "infinite") + " at " + where +
                                     "; stopping. The last good checkpoint is " +
                                     (kept.empty() ? std::string("none") : kept.back().string()) +
                                     " (optimizer.max_nonfinite_skips allows skipping such steps)");
          }
          ++s.position.nonfinite_skips;
          group_skipped = true;
          spdlog::warn("loss is not finite at {}: step skipped ({} of {} allowed)", where, s.position.nonfinite_skips, max_skips);
        } else {
          // Only the group's last backward pass communicates: the ones before accumulate locally.
          if (s.reducer) s.reducer->prepare(group_end);
          s.scaler.scale_loss(loss / static_cast<double>(s.accum_steps())).backward();
          if (s.reducer && group_end) s.reducer->finish();
          p.interval_loss_sum += loss_value;
          p.epoch_loss_sum += loss_value;
          ++p.interval_loss_count;
          ++p.epoch_loss_count;
        }
        interval_images += images.size(0) * s.world_size();
        ++s.position.batch;
        if (!group_end) continue;

        const double lr = learning_rate(s.schedule, s.position.stage_step);
        if (!group_skipped && s.scaler.unscale(s.trained)) {
          if (clip_grad > 0) torch::nn::utils::clip_grad_norm_(s.trained, clip_grad);
          for (auto& group : s.optimizer->param_groups()) group.options().set_lr(lr);
          s.optimizer->step();
          if (s.ema) s.ema->update(*s.model);
        }
        ++s.position.stage_step;
        ++s.position.global_step;
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - interval_start).count();
        const double images_per_second = seconds > 0 ? static_cast<double>(interval_images) / seconds : 0;
        const int64_t step_in_epoch = (s.position.batch + s.accum_steps() - 1) / s.accum_steps();
        if (s.writes_run_folder())
          progress.update(label, step_in_epoch, s.steps_per_epoch(), p.interval_loss_count ? p.interval_loss_sum / p.interval_loss_count : 0, lr,
                        images_per_second);
        if (s.position.global_step % log_every == 0 && s.writes_run_folder()) {
          nlohmann::ordered_json line{{"kind", "step"},
                                      {"stage", stage.name},
                                      {"epoch", s.position.epoch + 1},
                                      {"step", s.position.global_step},
                                      {"loss", p.interval_loss_count ? p.interval_loss_sum / p.interval_loss_count : 0},
                                      {"lr", lr},
                                      {"img_per_s", round_to(images_per_second, 1)}};
          const auto ternary = s.diagnostics.measure(*s.model);
          if (!ternary.empty()) {
            double zeros = 0, flips = 0;
            int64_t flip_layers = 0;
            for (const auto& layer : ternary) {
              zeros += layer.zero_fraction;
              if (layer.flip_rate) flips += *layer.flip_rate, ++flip_layers;
            }
            line["ternary_sparsity"] = zeros / static_cast<double>(ternary.size());
            if (flip_layers > 0) line["flip_rate"] = flips / static_cast<double>(flip_layers);
          }
          s.metrics->write(line);
        }
        if (s.position.global_step % log_every == 0) {
          p.interval_loss_sum = 0;
          p.interval_loss_count = 0;
          interval_images = 0;
          interval_start = std::chrono::steady_clock::now();
        }
        // At the epoch's last batch the epoch end below checkpoints and stops.
        if (const int signal = agreed_stop_signal(s.group()); signal != 0 && p.batch < batches) {
          progress.finish();
          const auto folder = save_step_checkpoint(stage, p);
          if (!folder) throw std::runtime_error("signal received, but the checkpoint of step " +
                                                std::to_string(s.position.global_step) + " could not be written");
          spdlog::warn("signal {} received: stopped after step {}, checkpoint {} written; continue with --resume auto",
                       signal, s.position.global_step, folder->string());
          return kExitOk;
        }
        if (checkpoint_every > 0 && p.global_step % checkpoint_every == 0 && p.batch < batches) save_step_checkpoint(stage, p);
      }

      // End of epoch: evaluate, log, checkpoint (the position moves to the next epoch first).
      progress.finish();
      auto result = evaluate(*s.model, *s.data.val_loader, s.options.device, s.group());
      nlohmann::ordered_json line{{"kind", "epoch"},
                                  {"stage", stage.name},
                                  {"epoch", s.position.epoch + 1},
                                  {"step", s.position.global_step},
                                  {"train_loss", p.epoch_loss_count ? p.epoch_loss_sum / p.epoch_loss_count : 0},
                                  {"val_top1", result.top1},
                                  {"val_top5", result.top5},
                                  {"val_loss", result.loss},
                                  {"eval_img_per_s", round_to(result.images_per_second, 1)}};
      if (s.ema) {
        ModelEma::Swap swap(*s.model, *s.ema);
        line["ema_val_top1"] = evaluate(*s.model, *s.data.val_loader, s.options.device, s.group()).top1;
      }
      const bool best = result.top1 > p.best_top1;
      if (best) p.best_top1 = result.top1;
      if (s.writes_run_folder()) s.metrics->write(line);
      spdlog::info("{}: val top-1 {}% top-5 {}% loss {}{}", label, fixed(result.top1, 2), fixed(result.top5, 2),
                   fixed(result.loss, 4), best ? " (best of the stage)" : "");
      // The checkpoint records the next position: the next epoch, or the next stage from its start.
      TrainerState next = p;
      next.batch = 0;
      next.epoch_loss_sum = 0;
      next.epoch_loss_count = 0;
      if (p.epoch + 1 == stage.epochs) {
        ++next.stage;
        next.epoch = 0;
        next.stage_step = 0;
        next.best_top1 = -1;
      } else {
        ++next.epoch;
      }
      save_step_checkpoint(stage, next);
      if (best) save(stage, next, s.checkpoints_dir() / ("best-" + stage.name));
      p.batch = 0;
      p.epoch_loss_sum = 0;
      p.epoch_loss_count = 0;
      if (const int signal = agreed_stop_signal(s.group())) {
        spdlog::warn("signal {} received: stopped at the end of an epoch; continue with --resume auto", signal);
        return kExitOk;
      }
    }
    data_epoch += stage.epochs;
    const auto next = static_cast<size_t>(s.position.stage) + 1;
    if (next < s.stages.size() && !s.stages[next].reset_optimizer) carried_optimizer_state = adamw_state(*s.optimizer);
    s.position.epoch = 0;
    s.position.stage_step = 0;
    s.position.best_top1 = -1;
  }
  spdlog::info("training done: {} steps; checkpoints in {}", s.position.global_step, s.checkpoints_dir().string());
  return kExitOk;
}

}  // namespace tervit::engine
