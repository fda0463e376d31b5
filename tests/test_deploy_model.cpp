// Packed models end to end: exact mode against the fake-quantized model holding the stored values,
// int8 mode against exact mode, the file's contents and sizes, and rejection of bad files.
#include <catch2/catch.hpp>

#include <filesystem>

#include "models/apply_quant_spec.h"
#include "test_deploy_helpers.h"
#include "tervit/core/error.h"
#include "models/model_metadata.h"
#include "tervit/deploy/packed_model.h"
#include "tervit/quant/quant_layers.h"

using namespace tervit;
using namespace tervit::deploy;
using namespace tervit::kernels;
using tervit::testing::packed_fixture;
using tervit::testing::relative_error;
using tervit::testing::TempDir;
using tervit::testing::ternary;
using tervit::testing::timm_fixture;

namespace {

torch::Tensor fixture_input(const std::string& name) {
  return read_safetensors(timm_fixture(name + ".io.safetensors")).tensors.at("input");
}

torch::Tensor logits(models::VisionModelImpl& model, const torch::Tensor& input) {
  torch::NoGradGuard no_grad;
  return model.forward(input);
}

// The error message of loading `file` packed, or "" when it loads.
std::string load_error(const SafetensorsData& file) {
  return testing::error_message([&] { load_packed_model(file, "bad.safetensors", PackedMode::kExact); });
}

}  // namespace

TEST_CASE("Exact mode equals the fake-quantized model holding the stored values", "[deploy]") {
  const auto name = GENERATE(as<std::string>{}, "deit_mini", "swin_mini");
  const auto bits = GENERATE(PackedBits::k2, PackedBits::k1_6);
  const auto granularity = GENERATE(quant::Granularity::kChannel, quant::Granularity::kLayer);
  CAPTURE(name, packed_bits_names().name(bits), granularity == quant::Granularity::kChannel);
  const auto spec = ternary().granularity(granularity);
  PackOptions options;
  options.bits = bits;
  const auto file = packed_fixture(name, spec, options);
  const auto packed = load_packed_model(file, name, PackedMode::kExact);
  CHECK(packed.packed_layers == static_cast<int64_t>(quant::quantizable_layers(*packed.model).size()));
  const auto input = fixture_input(name);
  const auto expected = logits(*testing::stored_values_model(file), input);
  const auto actual = logits(*packed.model, input);
  CHECK(relative_error(actual, expected) <= 1e-5);
  // fp16 storage moves the logits only slightly from the all-fp32 ternary model.
  CHECK(relative_error(actual, logits(*testing::quantized_fixture(name, spec).model, input)) < 1e-2);
}

TEST_CASE("Int8 mode stays close to exact mode", "[deploy]") {
  const auto name = GENERATE(as<std::string>{}, "deit_mini", "swin_mini");
  CAPTURE(name);
  const auto file = packed_fixture(name, ternary());
  const auto input = fixture_input(name);
  const auto exact = logits(*load_packed_model(file, name, PackedMode::kExact).model, input);
  const auto int8 = logits(*load_packed_model(file, name, PackedMode::kInt8).model, input);
  CHECK(relative_error(int8, exact) < 0.05);
  CHECK(torch::equal(int8.argmax(1), exact.argmax(1)));
}

TEST_CASE("A packed file keeps full-precision layers, metadata and class names", "[deploy]") {
  const auto spec = ternary().keep_first_last(true).delta(0.5);
  PackOptions options;
  options.float_dtype = torch::kFloat32;
  for (int i = 0; i < 10; ++i) options.class_names.push_back("class " + std::to_string(i));
  const auto file = packed_fixture("deit_mini", spec, options);
  CHECK(file.tensors.count("patch_embed.proj.weight"));
  CHECK(file.tensors.count("head.weight"));
  CHECK(file.tensors.at("blocks.0.attn.qkv.bias").scalar_type() == torch::kFloat32);
  CHECK(file.tensors.at("blocks.0.attn.qkv.alpha").scalar_type() == torch::kFloat16);
  CHECK(file.tensors.at("blocks.0.attn.qkv.weight.packed").sizes() == std::vector<int64_t>{144, 32});

  const auto packed = load_packed_model(file, "deit_mini", PackedMode::kExact);
  CHECK(packed.packed_layers == 8);  // 2 blocks x (qkv, proj, fc1, fc2); patch embedding and head in float
  CHECK(packed.class_names == options.class_names);
  CHECK(quant::quant_spec_json(packed.quant) == quant::quant_spec_json(spec));
  CHECK(architecture_metadata(packed.architecture) == architecture_metadata(testing::quantized_fixture("deit_mini", spec).architecture));
  // The packed layers' float weights are released.
  const auto parameters = packed.model->named_parameters();
  CHECK(parameters["blocks.0.mlp.fc1.weight"].numel() == 0);
  CHECK(parameters["head.weight"].numel() == 10 * 48);
  const auto input = fixture_input("deit_mini");
  CHECK(relative_error(logits(*packed.model, input), logits(*testing::stored_values_model(file), input)) <= 1e-5);
}

TEST_CASE("Packed files of the full-size models are within the issue's sizes", "[deploy][slow]") {
  // Random-init weights, every matrix ternary, other tensors fp16; MB = 10^6 bytes of the real file.
  const auto [name, limit_2bit, limit_1_6bit] =
      GENERATE(std::make_tuple("deit_small_patch16_224", 5.9e6, 4.8e6), std::make_tuple("swin_small_patch4_window7_224", 13.0e6, 10.5e6));
  CAPTURE(name);
  const auto architecture = models::model_architecture(name);
  auto model = models::create_model(architecture);
  models::apply_quant_spec(*model, ternary());
  TempDir dir;
  for (const auto& [bits, limit] : {std::make_pair(PackedBits::k2, limit_2bit), std::make_pair(PackedBits::k1_6, limit_1_6bit)}) {
    PackOptions options;
    options.bits = bits;
    const auto file = pack_model(*model, architecture, ternary(), options);
    const auto path = dir / "model.safetensors";
    write_safetensors(path, file.tensors, file.metadata);
    const auto bytes = static_cast<double>(std::filesystem::file_size(path));
    CAPTURE(packed_bits_names().name(bits), bytes);
    CHECK(bytes <= limit);
  }
}

TEST_CASE("Bad packed files are rejected with a clear error", "[deploy]") {
  const auto good = packed_fixture("deit_mini", ternary());
  REQUIRE(load_error(good).empty());
  const std::string packed = "blocks.1.mlp.fc2.weight.packed";

  SECTION("truncated") {
    TempDir dir;
    const auto path = dir / "model.safetensors";
    write_safetensors(path, good.tensors, good.metadata);
    const auto bytes = testing::read_bytes(path);
    testing::write_bytes(path, bytes, bytes.size() - 100);
    CHECK_THROWS_WITH(load_packed_model(path, PackedMode::kExact), Catch::Contains("past the end"));
  }
  SECTION("one block too few") {
    auto file = good;
    file.tensors[packed] = file.tensors[packed].slice(1, 0, -32).contiguous();
    CHECK_THAT(load_error(file), Catch::Contains("tensor '" + packed + "' has shape [48, 32], but 2-bit packing") &&
                                     Catch::Contains("takes [48, 64]"));
  }
  SECTION("bits that disagree with the tensors") {
    auto file = good;
    file.metadata["bits"] = "1.6";
    CHECK_THAT(load_error(file), Catch::Contains("1.6-bit packing"));
  }
  SECTION("an architecture that disagrees with the tensors") {
    auto file = good;
    file.metadata["config"] = R"({"img_size": 64, "patch_size": 16, "embed_dim": 48, "depth": 3, "num_heads": 3, "num_classes": 10})";
    CHECK_THAT(load_error(file), Catch::Contains("do not match the architecture") && Catch::Contains("blocks.2.norm1.weight"));
  }
  SECTION("a byte that is no packed trits") {
    auto file = good;
    file.tensors[packed] = file.tensors[packed].clone();
    file.tensors[packed][3][5] = 0xFF;
    CHECK_THAT(load_error(file), Catch::Contains("no packed trits"));
  }
  SECTION("scales of the wrong granularity or missing") {
    auto file = good;
    file.tensors["blocks.0.attn.proj.alpha"] = torch::ones({1}, torch::kFloat16);
    CHECK_THAT(load_error(file), Catch::Contains("channel-wise scales of this layer are float [48]"));
    file.tensors.erase("blocks.0.attn.proj.alpha");
    CHECK_THAT(load_error(file), Catch::Contains("packed weights but no α"));
  }
  SECTION("metadata that is missing or wrong") {
    auto file = good;
    file.metadata["format"] = "something";
    CHECK_THAT(load_error(file), Catch::Contains("not tervit-packed-ternary"));
    file = good;
    file.metadata.erase("quant");
    CHECK_THAT(load_error(file), Catch::Contains("metadata has no 'quant'"));
    file = good;
    file.metadata["class_names"] = R"(["only", "three", "names"])";
    CHECK_THAT(load_error(file), Catch::Contains("3 names for a model of 10 classes"));
    file = good;
    file.metadata["bits"] = "3";
    CHECK_THAT(load_error(file), Catch::Contains("expected one of 2, 1.6"));
  }
  SECTION("preprocessing metadata that is malformed") {
    auto file = good;
    file.metadata["preprocess"] = R"({"crop_pct": 0.9, "interpolation": "bilinear", "mean": [0.5, 0.5, 0.5], "std": [0.2, 0.2, 0.2]})";
    CHECK(load_error(file).empty());
    const std::vector<std::pair<std::string, std::string>> cases{
        {"[0.9]", "is not a JSON object"},
        {R"({"crop_pct": 1.5})", "crop_pct is not a number from 0.05 to 1"},
        {R"({"crop_pct": 0.001})", "crop_pct is not a number from 0.05 to 1"},
        {R"({"interpolation": "lanczos"})", "lanczos"},
        {R"({"mean": [0.5, 0.5]})", "mean is not 3 numbers"},
        {R"({"std": [0.2, 0, 0.2]})", "std is not 3 numbers above 0"},
        {R"({"scale": 1})", "unknown key 'scale'"}};
    for (const auto& [metadata, message] : cases) {
      file.metadata["preprocess"] = metadata;
      CAPTURE(metadata);
      CHECK_THAT(load_error(file), Catch::Contains("metadata 'preprocess'") && Catch::Contains(message));
    }
  }
}

TEST_CASE("Quantizer settings read back in the flat and in the trainer's stage shape", "[deploy]") {
  const auto spec = ternary().delta(0.6).granularity(quant::Granularity::kLayer).exclude({"head"});
  CHECK(quant::quant_spec_json(quant::quant_spec_from_json(quant::quant_spec_json(spec), "flat")) == quant::quant_spec_json(spec));
  const auto stage = R"({"weight_quant": "ternary", "quant": {"delta": 0.6, "granularity": "layer", "exclude": ["head"]}})";
  CHECK(quant::quant_spec_json(quant::quant_spec_from_json(stage, "stage")) == quant::quant_spec_json(spec));
  CHECK_THROWS_WITH(quant::quant_spec_from_json(R"({"weight_quant": "ternary", "detla": 0.6})", "file"), Catch::Contains("file: quant.detla: unknown key"));
}
