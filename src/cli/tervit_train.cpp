// tervit-train: trains a model by a config's stages. Until the trainer lands it validates the
// config, builds the model and writes the resolved config, so configs can be checked today.
#include <spdlog/spdlog.h>

#include <fstream>

#include "models/registry.h"
#include "tervit/core/app.h"
#include "tervit/core/config.h"
#include "tervit/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"tervit-train: progressive (8-bit, then ternary) training of DeiT and Swin"};
  std::string config_path;
  std::vector<std::string> overrides;
  std::string output;
  tervit::RuntimeOptions runtime;
  app.add_option("--config", config_path, "YAML run config (configs/*.yaml)")->required();
  app.add_option("--set", overrides, "override a config key: --set data.batch_size=128 (repeatable)");
  app.add_option("--output", output, "run folder: receives the resolved config");
  tervit::add_runtime_options(app, runtime);

  return tervit::run_app(app, argc, argv, [&] {
    auto config = tervit::load_config(config_path, overrides);
    // The config's runtime section applies unless the command line set it.
    if (app.count("--threads") == 0) runtime.threads = config.get<int>("runtime.threads");
    if (app.count("--device") == 0) runtime.device = config.get<std::string>("runtime.device");
    if (app.count("--log-level") == 0) runtime.log_level = config.get<std::string>("runtime.log_level");
    tervit::start_runtime("tervit-train", runtime);

    const auto model = tervit::models::create_model(tervit::models::model_architecture(
        config.get<std::string>("model.name"), config.node("model.architecture")));
    int64_t parameters = 0;
    for (const auto& p : model->parameters()) parameters += p.numel();
    spdlog::info("config {} is valid: model {} ({} parameters), {} stage(s)", config_path,
                 config.get<std::string>("model.name"), parameters, config.node("stages").size());
    if (!output.empty()) {
      std::filesystem::create_directories(output);
      const auto resolved = std::filesystem::path(output) / "config.yaml";
      std::ofstream file(resolved);
      if (!(file << config.dump()) || !file.flush()) throw tervit::Error(resolved.string() + ": cannot write the resolved config");
      spdlog::info("resolved config written to {}", resolved.string());
    }
    spdlog::warn("the trainer is not implemented yet: this build only validates configs");
    return tervit::kExitOk;
  });
}
