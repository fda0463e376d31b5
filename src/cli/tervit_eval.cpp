// tervit-eval: predictions of a model on images (one JSON line per image on stdout, logs on stderr).
#include <spdlog/spdlog.h>

#include <iostream>

#include "models/pretrained.h"
#include "tervit/core/app.h"
#include "tervit/core/error.h"
#include "tervit/core/safetensors.h"
#include "tervit/data/eval_transform.h"
#include "tervit/data/image_decode.h"
#include "tervit/engine/predict.h"
#include "tervit/quant/model_size.h"
#include "tervit/quant/quant_spec.h"

namespace {

struct EvalOptions {
  std::string model;
  std::string architecture;  // YAML map of architecture fields overriding the named model's
  std::string weights;
  std::vector<std::string> images;
  double crop_pct = 0;  // 0: the family's timm default
  std::string interpolation = "bicubic";
  int64_t topk = 5;
  std::string class_names;
  int64_t batch_size = 32;
  std::vector<float> mean{0.485f, 0.456f, 0.406f};
  std::vector<float> std{0.229f, 0.224f, 0.225f};
  tervit::quant::QuantSpec quant;  // post-training quantization of the loaded float weights
};

int run(const EvalOptions& options, const tervit::RuntimeOptions& runtime) {
  using namespace tervit;
  const auto device = start_runtime("tervit-eval", runtime);
  const auto weights = read_safetensors(options.weights);
  auto architecture = options.model.empty()
                          ? models::architecture_from_metadata(weights.metadata)
                          : models::model_architecture(options.model, YAML::Load(options.architecture));
  if (!architecture) throw Error(options.weights + ": no architecture in its metadata; name one with --model");
  auto model = models::create_model(*architecture);
  models::load_weights(*model, weights, options.weights);
  model->to(device);
  quant::apply_quant_spec(*model, options.quant);
  spdlog::info("weights {}: {}", quant::describe(options.quant), quant::model_size(*model).summary());
  const auto class_names = options.class_names.empty()
                               ? std::vector<std::string>{}
                               : engine::read_class_names(options.class_names, model->num_classes());

  data::EvalTransformOptions transform;
  transform.img_size = static_cast<int>(model->img_size());
  transform.crop_pct = options.crop_pct > 0 ? options.crop_pct : models::default_crop_pct(*architecture);
  transform.interpolation = data::parse_interpolation(options.interpolation);
  std::copy(options.mean.begin(), options.mean.end(), transform.mean.begin());
  std::copy(options.std.begin(), options.std.end(), transform.std.begin());
  spdlog::info("{} images, img_size {}, crop_pct {}, {}", options.images.size(), transform.img_size,
               transform.crop_pct, options.interpolation);

  size_t failed = 0;
  std::vector<std::string> batch_names;
  std::vector<torch::Tensor> batch;
  const auto flush = [&] {
    if (batch.empty()) return;
    const auto predictions = engine::predict(*model, torch::stack(batch), options.topk);
    for (size_t i = 0; i < predictions.size(); ++i)
      std::cout << engine::prediction_json(batch_names[i], predictions[i], class_names).dump() << "\n";
    std::cout.flush();
    batch.clear();
    batch_names.clear();
  };
  for (const auto& image : options.images) {
    try {
      batch.push_back(data::eval_transform(data::read_image(image), transform));
      batch_names.push_back(image);
    } catch (const Error& e) {
      spdlog::error("{}", e.what());  // the message names the image; the others still run
      ++failed;
    }
    if (static_cast<int64_t>(batch.size()) == options.batch_size) flush();
  }
  flush();
  if (failed > 0) {
    spdlog::error("{} of {} images could not be read", failed, options.images.size());
    return kExitPartial;
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tervit-eval: evaluate a DeiT or Swin model (float weights in safetensors, timm names)"};
  EvalOptions options;
  tervit::RuntimeOptions runtime;
  app.add_option("--model", options.model, "model name (e.g. deit_small_patch16_224); default: the weights' metadata");
  app.add_option("--arch", options.architecture, "architecture fields over --model's, e.g. '{img_size: 112, num_classes: 10}'");
  app.add_option("--weights", options.weights, "weights in safetensors format, timm parameter names")->required()->check(CLI::ExistingFile);
  app.add_option("--images", options.images, "images to classify")->required();
  app.add_option("--crop-pct", options.crop_pct, "resize to img_size / crop_pct, then center crop (default: 0.875 DeiT, 0.9 Swin)");
  app.add_option("--interpolation", options.interpolation, "bicubic, bilinear or nearest")->capture_default_str();
  app.add_option("--topk", options.topk, "classes per image")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--class-names", options.class_names, "file with one class name per line")->check(CLI::ExistingFile);
  app.add_option("--batch-size", options.batch_size, "images per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--mean", options.mean, "normalisation mean per channel")->expected(3)->capture_default_str();
  app.add_option("--std", options.std, "normalisation std per channel")->expected(3)->capture_default_str();
  tervit::quant::add_quant_options(app, options.quant);
  tervit::add_runtime_options(app, runtime);
  return tervit::run_app(app, argc, argv, [&] { return run(options, runtime); });
}
