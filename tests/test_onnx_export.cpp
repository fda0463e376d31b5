// ONNX export (deploy/onnx_export.h) checked in the runtimes users deploy with: ONNX Runtime and OpenVINO
// from PyPI (the checkout's .venv, tools/python_env.sh) run the exported graphs through tests/onnx_client.py
// and must give the logits tervit computes.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <optional>

#include "models/apply_quant_spec.h"
#include "test_deploy_helpers.h"
#include "tervit/core/atomic_file.h"
#include "tervit/deploy/onnx_export.h"
#include "tervit/deploy/packed_model.h"
#include "tervit/quant/quant_layers.h"

using namespace tervit;
using tervit::testing::TempDir;

namespace {

struct RuntimeResult {
  torch::Tensor logits;
  nlohmann::json report;  // the client's: the metadata the runtime read, ONNX Runtime's optimized operators
};

// `model` run by `runtime` ("onnxruntime", "openvino") on `images`; nullopt after reporting the test
// skipped when the checkout's .venv lacks the runtime.
std::optional<RuntimeResult> run_in(const std::string& runtime, const TempDir& dir, const std::filesystem::path& model,
                                    const torch::Tensor& images) {
  const auto python = testing::source_dir() / ".venv" / "bin" / "python";
  if (!std::filesystem::exists(python)) {
    testing::skip_test("no .venv in the checkout: bash tools/python_env.sh installs ONNX Runtime and OpenVINO");
    return std::nullopt;
  }
  const auto input = dir / "images.f32", output = dir / (runtime + ".logits.f32");
  const auto values = images.contiguous();
  write_file_atomically(input, {{values.data_ptr<float>(), static_cast<size_t>(values.numel()) * sizeof(float)}});
  std::string shape;
  for (const int64_t d : values.sizes()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
  const auto run = testing::run_command(dir, python.string() + " " + (testing::source_dir() / "tests" / "onnx_client.py").string() + " --runtime " + runtime +
                                                 " --model " + model.string() + " --input " + input.string() + " --shape " + shape +
                                                 " --output " + output.string());
  if (run.exit_code == 77) {
    testing::skip_test(run.err);
    return std::nullopt;
  }
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const auto bytes = testing::read_bytes(output);
  auto logits = torch::empty({images.size(0), static_cast<int64_t>(bytes.size() / sizeof(float)) / images.size(0)});
  REQUIRE(static_cast<size_t>(logits.numel()) * sizeof(float) == bytes.size());
  std::memcpy(logits.data_ptr<float>(), bytes.data(), bytes.size());
  return RuntimeResult{logits, nlohmann::json::parse(run.out)};
}

std::filesystem::path write_export(const TempDir& dir, const std::string& name, models::VisionModelImpl& model,
                                   const models::ModelArchitecture& architecture, const deploy::OnnxExportOptions& options) {
  const auto path = dir / (name + ".onnx");
  write_file_atomically(path, deploy::export_onnx(model, architecture, options).bytes);
  return path;
}

deploy::OnnxExportOptions form(deploy::OnnxForm form) {
  deploy::OnnxExportOptions options;
  options.form = form;
  return options;
}

torch::Tensor images_for(models::VisionModelImpl& model, int64_t batch, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randn({batch, model.in_chans(), model.img_size(), model.img_size()});
}

torch::Tensor logits_of(models::VisionModelImpl& model, const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  return model.forward(images);
}

// A small distilled DeiT (two heads), random weights.
testing::FixtureModel distilled_deit() {
  const auto architecture = models::model_architecture("deit_tiny_distilled_patch16_224",
                                                       YAML::Load("{img_size: 32, patch_size: 8, depth: 2, embed_dim: 48, num_heads: 3, num_classes: 7}"));
  auto model = models::create_model(architecture);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.2);
  model->eval();
  return {model, architecture};
}

}  // namespace

TEST_CASE("onnx export: the float graph gives the model's logits in ONNX Runtime", "[deploy][onnx]") {
  TempDir dir;
  const auto int8 = quant::QuantSpec().weight_quant(quant::WeightQuant::kInt8);
  const std::vector<std::pair<std::string, testing::FixtureModel>> cases{
      {"deit_mini", testing::quantized_fixture("deit_mini", {})},
      {"swin_mini", testing::quantized_fixture("swin_mini", {})},
      {"deit_distilled", distilled_deit()},
      // Quantized layers in float: the fake-quantized model's weights, codes · scale.
      {"deit_mini_ternary", testing::quantized_fixture("deit_mini", testing::ternary())},
      {"swin_mini_int8", testing::quantized_fixture("swin_mini", int8)},
  };
  for (const auto& [name, fixture] : cases) {
    INFO(name);
    const auto images = images_for(*fixture.model, 2, 1);
    const auto path = write_export(dir, name, *fixture.model, fixture.architecture, form(deploy::OnnxForm::kFloat));
    const auto result = run_in("onnxruntime", dir, path, images);
    if (!result) return;
    CHECK(testing::relative_error(result->logits, logits_of(*fixture.model, images)) < 1e-4);
  }
}

TEST_CASE("onnx export: full-size deit_small and swin_small float graphs in ONNX Runtime", "[deploy][onnx][slow]") {
  TempDir dir;
  for (const auto* name : {"deit_small_patch16_224", "swin_small_patch4_window7_224"}) {
    INFO(name);
    const auto architecture = models::model_architecture(name);
    auto model = models::create_model(architecture);
    model->eval();
    const auto images = images_for(*model, 1, 2);
    const auto result = run_in("onnxruntime", dir, write_export(dir, name, *model, architecture, form(deploy::OnnxForm::kFloat)), images);
    if (!result) return;
    CHECK(testing::relative_error(result->logits, logits_of(*model, images)) < 1e-4);
  }
}

TEST_CASE("onnx export: the qdq graph of a packed model equals its exact mode in ONNX Runtime and OpenVINO", "[deploy][onnx]") {
  TempDir dir;
  for (const auto* name : {"deit_mini", "swin_mini"}) {
    INFO(name);
    auto packed = deploy::load_packed_model(testing::packed_fixture(name, testing::ternary()), name, kernels::PackedMode::kExact);
    const auto exported = deploy::export_onnx(*packed.model, packed.architecture, form(deploy::OnnxForm::kQdq));
    // Every packed layer's trits as INT8 codes with per-channel α.
    CHECK(exported.operators.at("DequantizeLinear") == packed.packed_layers);
    int64_t trits = 0;
    for (const auto& [layer, quantizable] : quant::quantizable_layers(*packed.model))
      if (const auto* kernel = dynamic_cast<const deploy::PackedTernaryLinear*>(quantizable->kernel().get()))
        trits += kernel->matrix().rows * kernel->matrix().cols;
    CHECK(exported.integer_weights == trits);
    const auto path = dir / (std::string(name) + ".qdq.onnx");
    write_file_atomically(path, exported.bytes);
    const auto images = images_for(*packed.model, 2, 3);
    const auto exact = logits_of(*packed.model, images);
    const auto ort = run_in("onnxruntime", dir, path, images);
    if (!ort) return;
    CHECK(testing::relative_error(ort->logits, exact) < 1e-4);
    const auto openvino = run_in("openvino", dir, path, images);
    if (!openvino) return;
    CHECK(testing::relative_error(openvino->logits, exact) < 1e-3);
  }
}

TEST_CASE("onnx export: the dynamic graph runs ONNX Runtime's integer kernel and agrees with the packed int8 mode", "[deploy][onnx]") {
  TempDir dir;
  for (const auto* name : {"deit_mini", "swin_mini"}) {
    INFO(name);
    const auto file = testing::packed_fixture(name, testing::ternary());
    auto exact = deploy::load_packed_model(file, name, kernels::PackedMode::kExact);
    auto int8 = deploy::load_packed_model(file, name, kernels::PackedMode::kInt8);
    const auto path = write_export(dir, std::string(name) + ".dynamic", *exact.model, exact.architecture, form(deploy::OnnxForm::kDynamic));
    const auto images = images_for(*exact.model, 1, 4);
    const auto reference = logits_of(*exact.model, images);
    const auto ort = run_in("onnxruntime", dir, path, images);
    if (!ort) return;
    // ONNX Runtime fused every layer's DynamicQuantizeLinear + MatMulInteger + scales into its kernel.
    const auto& operators = ort->report["optimized_operators"];
    CHECK(operators.value("DynamicQuantizeMatMul", 0) == exact.packed_layers);
    CHECK(operators.value("MatMulInteger", 0) == 0);
    const double int8_error = testing::relative_error(logits_of(*int8.model, images), reference);
    const double dynamic_error = testing::relative_error(ort->logits, reference);
    const double between = testing::relative_error(ort->logits, logits_of(*int8.model, images));
    UNSCOPED_INFO("int8 mode vs exact " << int8_error << ", ONNX Runtime dynamic vs exact " << dynamic_error
                                        << ", between them " << between);
    CHECK(int8_error < 0.05);
    CHECK(dynamic_error < 0.05);
    CHECK(between < 0.05);
  }
}

TEST_CASE("onnx export: the runtimes reject a corrupted export", "[deploy][onnx]") {
  TempDir dir;
  auto fixture = testing::quantized_fixture("deit_mini", testing::ternary());
  const auto path = write_export(dir, "deit", *fixture.model, fixture.architecture, form(deploy::OnnxForm::kQdq));
  const auto bytes = testing::read_bytes(path);
  const auto truncated = dir / "truncated.onnx", overwritten = dir / "overwritten.onnx";
  testing::write_bytes(truncated, bytes, bytes.size() / 2);
  auto garbage = bytes;
  std::fill(garbage.begin(), garbage.begin() + 64, uint8_t{0xff});
  testing::write_bytes(overwritten, garbage);
  const auto python = testing::source_dir() / ".venv" / "bin" / "python";
  if (!std::filesystem::exists(python)) return testing::skip_test("no .venv in the checkout: bash tools/python_env.sh");
  const auto images = images_for(*fixture.model, 1, 5);
  write_file_atomically(dir / "images.f32", {{images.data_ptr<float>(), static_cast<size_t>(images.numel()) * sizeof(float)}});
  for (const auto* runtime : {"onnxruntime", "openvino"}) {
    for (const auto& model : {truncated, overwritten}) {
      INFO(runtime << " " << model);
      const auto run = testing::run_command(dir, python.string() + " " + (testing::source_dir() / "tests" / "onnx_client.py").string() + " --runtime " + runtime +
                                                     " --model " + model.string() + " --input " + (dir / "images.f32").string() +
                                                     " --shape 1,3," + std::to_string(fixture.model->img_size()) + "," +
                                                     std::to_string(fixture.model->img_size()) + " --output " + (dir / "out.f32").string());
      if (run.exit_code == 77) return testing::skip_test(run.err);
      CHECK(run.exit_code == 2);
      CHECK_THAT(run.err, Catch::Contains("rejected"));
    }
  }
}

TEST_CASE("onnx export: what the graphs cannot express is an error naming it", "[deploy][onnx]") {
  auto fp = testing::quantized_fixture("deit_mini", {});
  CHECK_THAT(testing::error_message([&] { deploy::export_onnx(*fp.model, fp.architecture, form(deploy::OnnxForm::kDynamic)); }),
             Catch::Contains("dynamic form") && Catch::Contains("has none"));
  const auto activations = testing::ternary().activation(quant::ActivationQuant::kAbsmaxToken);
  auto quantized_inputs = testing::quantized_fixture("deit_mini", activations);
  CHECK_THAT(testing::error_message([&] { deploy::export_onnx(*quantized_inputs.model, quantized_inputs.architecture, form(deploy::OnnxForm::kQdq)); }),
             Catch::Contains("blocks.0.attn.qkv") && Catch::Contains("input activations"));
}

TEST_CASE("tervit-export --format onnx from a packed file keeps its class names and preprocessing", "[deploy][onnx][cli]") {
  TempDir dir;
  deploy::PackOptions pack;
  for (int i = 0; i < 10; ++i) pack.class_names.push_back("class " + std::to_string(i));
  pack.preprocess = {{"crop_pct", 0.9}, {"interpolation", "bicubic"}, {"mean", {0.5, 0.5, 0.5}}, {"std", {0.25, 0.25, 0.25}}};
  const auto file = testing::packed_fixture("swin_mini", testing::ternary(), pack);
  write_safetensors(dir / "swin.packed", file.tensors, file.metadata);
  const auto out = dir / "swin.onnx";
  const auto run = testing::run(dir, "tervit-export", "--threads 1 --packed " + (dir / "swin.packed").string() +
                                                          " --format onnx --onnx-form qdq --out " + out.string());
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const auto summary = nlohmann::json::parse(run.out);
  CHECK(summary["bytes"] == std::filesystem::file_size(out));
  CHECK(summary["onnx_form"] == "qdq");
  auto packed = deploy::load_packed_model(file, "swin", kernels::PackedMode::kExact);
  CHECK(summary["operators"]["DequantizeLinear"] == packed.packed_layers);
  const auto images = images_for(*packed.model, 1, 6);
  const auto ort = run_in("onnxruntime", dir, out, images);
  if (!ort) return;
  CHECK(testing::relative_error(ort->logits, logits_of(*packed.model, images)) < 1e-4);
  const auto& metadata = ort->report["metadata"];
  CHECK(nlohmann::json::parse(metadata["class_names"].get<std::string>()) == nlohmann::json(pack.class_names));
  CHECK(nlohmann::json::parse(metadata["preprocess"].get<std::string>()) == pack.preprocess);
  CHECK(metadata["family"] == "swin");

  const auto again = testing::run(dir, "tervit-export", "--threads 1 --packed " + (dir / "swin.packed").string() + " --out " +
                                                            (dir / "x.packed").string());
  CHECK(again.exit_code != 0);
  CHECK_THAT(again.err, Catch::Contains("packed already"));
  const auto bits = testing::run(dir, "tervit-export", "--threads 1 --packed " + (dir / "swin.packed").string() +
                                                           " --format onnx --bits 1.6 --out " + (dir / "y.onnx").string());
  CHECK(bits.exit_code != 0);
  CHECK_THAT(bits.err, Catch::Contains("--bits"));
}

TEST_CASE("tervit-export --format onnx quantizes float weights with the quantizer options", "[deploy][onnx][cli]") {
  TempDir dir;
  const auto out = dir / "deit_int8.onnx";
  const auto run = testing::run(dir, "tervit-export", "--threads 1 --weights " + testing::timm_fixture("deit_mini.safetensors").string() +
                                                          " --weight-quant int8 --keep-first-last --format onnx --onnx-form dynamic --out " +
                                                          out.string());
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const auto summary = nlohmann::json::parse(run.out);
  auto fixture = testing::quantized_fixture("deit_mini", quant::QuantSpec().weight_quant(quant::WeightQuant::kInt8).keep_first_last(true));
  // Every block's four matrices in integers; the patch embedding and the head kept float.
  const int64_t blocks = std::get<models::DeiTOptions>(fixture.architecture).depth();
  CHECK(summary["operators"]["MatMulInteger"] == 4 * blocks);
  CHECK(summary["operators"]["MatMul"].get<int64_t>() >= 2);
  const auto images = images_for(*fixture.model, 1, 7);
  const auto ort = run_in("onnxruntime", dir, out, images);
  if (!ort) return;
  CHECK(nlohmann::json::parse(ort->report["metadata"]["quant"].get<std::string>())["weight_quant"] == "int8");
  // Int8 weights with 8-bit activations: close to the fake-quantized model, not equal.
  CHECK(testing::relative_error(ort->logits, logits_of(*fixture.model, images)) < 0.05);
}
