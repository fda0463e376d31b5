// tervit-eval: predictions of a model on images (one JSON line per image on stdout), or its accuracy on
// a data set (one JSON object); logs on stderr. The model: float weights, or a training checkpoint.
#include <spdlog/spdlog.h>

#include <iostream>

#include "models/apply_quant_spec.h"
#include "models/pretrained.h"
#include "tervit/libtorch/app.h"
#include "tervit/core/command_line.h"
#include "tervit/core/error.h"
#include "tervit/core/json_text.h"
#include "tervit/core/thread_budget.h"
#include "tervit/libtorch/safetensors.h"
#include "tervit/data/eval_transform.h"
#include "tervit/data/image_decode.h"
#include "tervit/data/image_folder.h"
#include "tervit/deploy/packed_model.h"
#include "tervit/engine/model_from_file.h"
#include "tervit/engine/evaluate.h"
#include "tervit/engine/classify.h"
#include "tervit/image/normalize_planes.h"
#include "tervit/quant/model_size.h"
#include "tervit/quant/quant_spec.h"

namespace {

struct EvalOptions {
  std::string model;
  std::string architecture;  // YAML map of architecture fields overriding the named model's
  std::string weights;
  std::string checkpoint;
  std::string packed;
  std::string packed_mode = "exact";
  std::vector<std::string> images;
  std::string data;
  double crop_pct = 0;  // 0: the run config's, else the family's timm default
  std::string interpolation = "bicubic";
  int64_t topk = 5;
  std::string class_names;
  int64_t batch_size = 32;
  int workers = 2;
  std::vector<float> mean{0.485f, 0.456f, 0.406f};
  std::vector<float> std{0.229f, 0.224f, 0.225f};
  tervit::quant::QuantSpec quant;  // post-training quantization of the loaded float weights
};

struct LoadedModel {
  tervit::models::ModelArchitecture architecture;
  tervit::models::VisionModel model;
  tervit::quant::QuantSpec quant;
  YAML::Node run_config;                // a checkpoint's run config (a packed file's: its data section); null for plain weights
  std::vector<std::string> class_names;  // a packed file's; empty otherwise
};

LoadedModel load_model(const EvalOptions& options, bool quant_given) {
  using namespace tervit;
  if (!options.packed.empty()) {
    auto packed = deploy::load_packed_model(options.packed, kernels::packed_mode_names().parse(options.packed_mode, "--packed-mode"));
    spdlog::info("{}: {} packed layers, {} kernels, {:.3f} MB file", options.packed, packed.packed_layers, options.packed_mode,
                 static_cast<double>(std::filesystem::file_size(options.packed)) / 1e6);
    // The run's preprocessing recorded by tervit-export stands in for a checkpoint's data section.
    YAML::Node run_config;
    if (!packed.preprocess.is_null()) run_config["data"] = YAML::Load(packed.preprocess.dump());  // JSON is YAML
    return {packed.architecture, packed.model, packed.quant, run_config, packed.class_names};
  }
  if (!options.checkpoint.empty()) {
    auto loaded = engine::load_checkpoint_model(options.checkpoint);
    // A checkpoint's own quantizer (and learned scales) apply unless the command line asks for another.
    if (quant_given) models::apply_quant_spec(*loaded.model, options.quant);
    return {loaded.architecture, loaded.model, quant_given ? options.quant : loaded.quant, loaded.config, {}};
  }
  const auto named = options.model.empty() ? std::nullopt
                                           : std::optional(models::model_architecture(options.model, YAML::Load(options.architecture)));
  auto loaded = engine::model_from_weights(read_safetensors(options.weights), options.weights, named, options.quant);
  return {loaded.architecture, loaded.model, loaded.quant, YAML::Node(), {}};
}

// Command-line values win; then a checkpoint's run config (data section) or a packed file's; then timm's defaults.
tervit::image::EvalTransformOptions eval_transform_options(const EvalOptions& options, const CLI::App& app,
                                                          const LoadedModel& loaded) {
  using namespace tervit;
  image::EvalTransformOptions transform;
  transform.img_size = static_cast<int>(loaded.model->img_size());
  const auto run_data = loaded.run_config ? loaded.run_config["data"] : YAML::Node();
  const auto from_run = [&](const char* option, const char* key) { return app.count(option) == 0 && run_data && run_data[key]; };
  transform.crop_pct = options.crop_pct > 0           ? options.crop_pct
                       : from_run("--crop-pct", "crop_pct") ? run_data["crop_pct"].as<double>()
                                                         : models::default_crop_pct(loaded.architecture);
  transform.interpolation = image::interpolation_names().parse(
      from_run("--interpolation", "interpolation") ? run_data["interpolation"].as<std::string>() : options.interpolation, "--interpolation");
  const auto mean = from_run("--mean", "mean") ? run_data["mean"].as<std::vector<float>>() : options.mean;
  const auto std = from_run("--std", "std") ? run_data["std"].as<std::vector<float>>() : options.std;
  std::copy(mean.begin(), mean.end(), transform.mean.begin());
  std::copy(std.begin(), std.end(), transform.std.begin());
  image::check_eval_transform(transform);
  return transform;
}

int classify_images(tervit::models::VisionModelImpl& model, const EvalOptions& options,
                    const tervit::image::EvalTransformOptions& transform, const std::vector<std::string>& stored_names) {
  using namespace tervit;
  const auto class_names = options.class_names.empty()
                               ? stored_names
                               : runtime::read_class_names_file(options.class_names, model.num_classes());
  size_t failed = 0;
  std::vector<std::string> batch_names;
  std::vector<torch::Tensor> batch;
  const auto flush = [&] {
    if (batch.empty()) return;
    const auto predictions = engine::classify(model, torch::stack(batch), options.topk);
    for (size_t i = 0; i < predictions.size(); ++i)
      std::cout << json_text(runtime::prediction_json(batch_names[i], predictions[i], class_names)) << "\n";
    std::cout.flush();
    batch.clear();
    batch_names.clear();
  };
  for (const auto& image : options.images) {
    try {
      batch.push_back(data::eval_transform(data::read_image(image), transform));
      batch_names.push_back(image);
    } catch (const std::exception& e) {  // tervit's, OpenCV's or memory for this image: the others still run
      spdlog::error("{}", naming(image, e.what()));
      ++failed;
    }
    if (static_cast<int64_t>(batch.size()) == options.batch_size) flush();
  }
  flush();
  if (failed > 0) {
    spdlog::error("{} of {} images could not be read", failed, options.images.size());
    return tervit::kExitPartial;
  }
  return tervit::kExitOk;
}

// Top-1, top-5, loss and throughput over an ImageFolder, as one JSON object on stdout.
int evaluate_data_set(tervit::models::VisionModelImpl& model, const EvalOptions& options,
                      const tervit::image::EvalTransformOptions& transform, const torch::Device& device,
                      const std::string& size_summary, double size_mb) {
  using namespace tervit;
  if (!std::filesystem::is_directory(options.data))
    throw Error("--data " + options.data + (std::filesystem::exists(options.data) ? " is not a folder" : " does not exist"));
  const auto dataset = data::load_image_folder(options.data);
  if (static_cast<int64_t>(dataset.classes.size()) != model.num_classes())
    throw Error("--data " + options.data + " has " + std::to_string(dataset.classes.size()) +
                " classes but the model has " + std::to_string(model.num_classes()));
  auto loader = engine::make_eval_loader(dataset.samples, transform, options.batch_size, options.workers);
  const auto result = engine::evaluate(model, *loader, device);
  spdlog::info("{}: top-1 {:.2f}% top-5 {:.2f}% loss {:.4f} over {} images ({:.0f} img/s); {}", options.data, result.top1,
               result.top5, result.loss, result.images, result.images_per_second, size_summary);
  nlohmann::ordered_json json{{"data", options.data},   {"images", result.images},
                              {"top1", result.top1},    {"top5", result.top5},
                              {"loss", result.loss},    {"img_per_s", result.images_per_second},
                              {"model_size_mb", size_mb}};
  std::cout << json_text(json) << std::endl;
  if (loader->bad_file_count() > 0) {
    spdlog::error("{} unreadable images were replaced by others; the figures are approximate", loader->bad_file_count());
    return kExitPartial;
  }
  return kExitOk;
}

int run(const EvalOptions& options, const CLI::App& app, const tervit::ProcessOptions& process) {
  using namespace tervit;
  auto device = start_process("tervit-eval", process);
  if (!options.packed.empty() && !device.is_cpu()) {
    spdlog::warn("--packed runs tervit's CPU kernels: evaluating on the CPU, not {}", device.str());
    device = torch::kCPU;
  }
  auto loaded = load_model(options, app.count("--weight-quant") > 0);
  image::check_takes_rgb(loaded.model->in_chans(), "the model");
  loaded.model->to(device);
  // A packed model's matrices are no parameters: its size is the file's.
  const auto size = quant::model_size(*loaded.model);
  spdlog::info("weights {}: {}", quant::describe(loaded.quant), size.summary());
  const auto transform = eval_transform_options(options, app, loaded);
  spdlog::info("img_size {}, crop_pct {}, mean {}/{}/{}", transform.img_size, transform.crop_pct, transform.mean[0],
               transform.mean[1], transform.mean[2]);
  const double megabytes = options.packed.empty() ? size.paper_megabytes()
                                                  : static_cast<double>(std::filesystem::file_size(options.packed)) / 1e6;
  if (!options.data.empty()) return evaluate_data_set(*loaded.model, options, transform, device, size.summary(), megabytes);
  return classify_images(*loaded.model, options, transform, loaded.class_names);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tervit-eval: evaluate a DeiT or Swin model (float weights in safetensors, timm names)"};
  EvalOptions options;
  tervit::ProcessOptions process;
  app.add_option("--model", options.model, "model name (e.g. deit_small_patch16_224); default: the weights' metadata");
  app.add_option("--arch", options.architecture, "architecture fields over --model's, e.g. '{img_size: 112, num_classes: 10}'");
  auto* weights = app.add_option("--weights", options.weights, "weights in safetensors format, timm parameter names")->check(CLI::ExistingFile);
  auto* checkpoint = app.add_option("--checkpoint", options.checkpoint, "a tervit-train checkpoint folder (runs/NAME/checkpoints/best-ternary)")
                         ->check(CLI::ExistingDirectory);
  auto* packed = app.add_option("--packed", options.packed, "a packed ternary model made by tervit-export (runs tervit's CPU kernels)")
                     ->check(CLI::ExistingFile);
  app.add_option("--packed-mode", options.packed_mode, "exact (float activations) or int8 (W2A8 integer kernels)")->capture_default_str();
  weights->excludes(checkpoint)->excludes(packed);
  checkpoint->excludes(packed);
  app.add_option("--images", options.images, "images to classify (one JSON line each)");
  app.add_option("--data", options.data, "an ImageFolder (e.g. a val split) to measure top-1/top-5/loss on");
  app.add_option("--workers", options.workers, "decoding threads for --data")->capture_default_str()->check(CLI::Range(0, tervit::kMaxThreads));
  app.add_option("--crop-pct", options.crop_pct, "resize to img_size / crop_pct, then center crop (default: 0.875 DeiT, 0.9 Swin)")
      ->check(tervit::finite_in(tervit::image::kMinCropPct, 1.0));
  app.add_option("--interpolation", options.interpolation, "bicubic, bilinear or nearest")->capture_default_str();
  app.add_option("--topk", options.topk, "classes per image")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--class-names", options.class_names, "file with one class name per line")->check(CLI::ExistingFile);
  app.add_option("--batch-size", options.batch_size, "images per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--mean", options.mean, "normalisation mean per channel")->expected(3)->capture_default_str()->check(tervit::finite_in(-1e3, 1e3));
  app.add_option("--std", options.std, "normalisation std per channel")->expected(3)->capture_default_str()->check(tervit::finite_in(1e-6, 1e3));
  tervit::quant::add_quant_options(app, options.quant);
  tervit::add_process_options(app, process);
  return tervit::run_app(app, argc, argv, [&] {
    if (options.weights.empty() + options.checkpoint.empty() + options.packed.empty() != 2)
      throw tervit::Error("give one of --weights FILE, --checkpoint DIR or --packed FILE");
    if (options.images.empty() == options.data.empty()) throw tervit::Error("give --images FILE... or --data FOLDER");
    return run(options, app, process);
  });
}
