// The LibTorch-free runtime against the LibTorch packed model (deploy::load_packed_model) on the same
// packed files: DeiT (plain and distilled) and Swin, 2 and 1.6 bits, exact and int8 mode, float layers kept;
// its checks of bad files; and tervit-run, which must never load LibTorch.
#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <filesystem>

#include "models/apply_quant_spec.h"
#include "models/registry.h"
#include "test_deploy_helpers.h"
#include "tervit/core/error.h"
#include "tervit/deploy/packed_model.h"
#include "tervit/kernels/ternary_kernels.h"
#include "tervit/runtime/model.h"
#include "src/kernels/float_kernels.h"
#include "src/kernels/int8_attention_kernels.h"
#include "tervit/kernels/int8_attention.h"

using namespace tervit;
using namespace tervit::deploy;
using namespace tervit::kernels;
using tervit::testing::packed_fixture;
using tervit::testing::relative_error;
using tervit::testing::TempDir;
using tervit::testing::ternary;
using tervit::testing::timm_fixture;

namespace {

SafetensorsData pack(models::VisionModelImpl& model, const models::ModelArchitecture& architecture, const quant::QuantSpec& spec,
                     PackOptions options = {}) {
  torch::NoGradGuard no_grad;
  return pack_model(model, architecture, spec, options);
}

// `file` as the runtime reads it from disk.
runtime::Model runtime_model(const SafetensorsData& file, PackedMode mode, AttentionPrecision attention = AttentionPrecision::kFloat) {
  TempDir dir;
  write_safetensors(dir / "model.safetensors", file.tensors, file.metadata);
  return runtime::load_model(dir / "model.safetensors", mode, attention);
}

torch::Tensor runtime_logits(const runtime::Model& model, const torch::Tensor& images) {
  const auto input = images.contiguous();
  const auto logits = model.forward(input.data_ptr<float>(), input.size(0));
  return torch::from_blob(const_cast<float*>(logits.data()), {input.size(0), model.architecture.num_classes}).clone();
}

torch::Tensor libtorch_logits(const SafetensorsData& file, PackedMode mode, const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  return load_packed_model(file, "packed", mode).model->forward(images);
}

// Compares the runtime with the LibTorch packed model in both modes.
void check_runtime_matches(const SafetensorsData& file, const torch::Tensor& images) {
  const auto exact = libtorch_logits(file, PackedMode::kExact, images);
  CHECK(relative_error(runtime_logits(runtime_model(file, PackedMode::kExact), images), exact) <= 1e-5);
  // Int8 mode quantizes activations that differ by float reassociation, so a rounding to int8 flips now and
  // then, and each flip moves an activation by 1/127 of its token's largest: on the fixtures the logits
  // differ by 0.3-0.8% (int8 against exact mode differs by up to 5%). Exact mode above is the strict check.
  const auto int8 = libtorch_logits(file, PackedMode::kInt8, images);
  const auto runtime_int8 = runtime_logits(runtime_model(file, PackedMode::kInt8), images);
  CHECK(relative_error(runtime_int8, int8) <= 1.5e-2);
  CHECK(torch::equal(runtime_int8.argmax(1), int8.argmax(1)));
  // int8 attention, which the LibTorch model does not run: its quantized queries, keys and values add
  // to int8 mode's error.
  const auto int8_attention = runtime_logits(runtime_model(file, PackedMode::kInt8, AttentionPrecision::kInt8), images);
  CAPTURE(relative_error(int8_attention, int8), relative_error(int8_attention, exact));
  CHECK(relative_error(int8_attention, int8) <= 3e-2);
  CHECK(torch::equal(int8_attention.argmax(1), int8.argmax(1)));
}

// The error message of loading `file` in the runtime, or "" when it loads.
std::string runtime_error(const SafetensorsData& file) {
  return testing::error_message([&] { runtime_model(file, PackedMode::kExact); });
}

}  // namespace

TEST_CASE("The runtime computes what the LibTorch packed model computes", "[runtime]") {
  const auto name = GENERATE(as<std::string>{}, "deit_mini", "swin_mini");
  const auto bits = GENERATE(PackedBits::k2, PackedBits::k1_6);
  CAPTURE(name, packed_bits_names().name(bits));
  PackOptions options;
  options.bits = bits;
  const auto file = packed_fixture(name, ternary(), options);
  const auto images = read_safetensors(timm_fixture(name + ".io.safetensors")).tensors.at("input");
  const auto model = runtime_model(file, PackedMode::kExact);
  const auto packed_tensors = std::count_if(file.tensors.begin(), file.tensors.end(),
                                            [](const auto& tensor) { return ends_with(tensor.first, kPackedWeightSuffix); });
  CHECK(packed_tensors > 0);
  CHECK(model.packed_layers == packed_tensors);
  check_runtime_matches(file, images);
}

TEST_CASE("The runtime runs layer-wise scales, float layers and fp32 tensors", "[runtime]") {
  const auto name = GENERATE(as<std::string>{}, "deit_mini", "swin_mini");
  CAPTURE(name);
  PackOptions options;
  options.float_dtype = torch::kFloat32;
  const auto file = packed_fixture(name, ternary().granularity(quant::Granularity::kLayer).keep_first_last(true), options);
  CHECK(file.tensors.count("patch_embed.proj.weight"));  // kept in float
  const auto model = runtime_model(file, PackedMode::kExact);
  CHECK_FALSE(model.architecture.family.empty());
  check_runtime_matches(file, read_safetensors(timm_fixture(name + ".io.safetensors")).tensors.at("input"));
}

TEST_CASE("The runtime runs distilled DeiT and a batch of images", "[runtime]") {
  torch::manual_seed(3);
  const auto architecture = models::model_architecture(
      "deit", YAML::Load("{img_size: 32, patch_size: 8, embed_dim: 48, depth: 2, num_heads: 3, num_classes: 7, distilled: true}"));
  auto model = models::create_model(architecture);
  model->eval();
  models::apply_quant_spec(*model, ternary());
  const auto file = pack(*model, architecture, ternary());
  const auto images = torch::randn({3, 3, 32, 32});
  check_runtime_matches(file, images);
  // Each image of a batch on its own.
  const auto runtime = runtime_model(file, PackedMode::kExact);
  CHECK(relative_error(runtime_logits(runtime, images).slice(0, 1, 2), runtime_logits(runtime, images.slice(0, 1, 2))) == 0);
}

TEST_CASE("The runtime runs a Swin stage in several passes of windows", "[runtime]") {
  // 32 x 32 tokens in windows of 16: more tokens than one pass of qkv and attention takes (512), so the
  // first stage runs in passes, its shifted block with the mask of each pass's windows.
  torch::manual_seed(4);
  const auto architecture = models::model_architecture(
      "swin", YAML::Load("{img_size: 64, patch_size: 2, embed_dim: 16, depths: [2, 2], num_heads: [1, 2], window_size: 4, "
                         "num_classes: 5}"));
  auto model = models::create_model(architecture);
  model->eval();
  models::apply_quant_spec(*model, ternary());
  check_runtime_matches(pack(*model, architecture, ternary()), torch::randn({2, 3, 64, 64}));
}

TEST_CASE("The runtime rejects bad packed files, naming the tensor", "[runtime]") {
  const auto good = packed_fixture("deit_mini", ternary());
  REQUIRE(runtime_error(good).empty());
  auto missing = good;
  missing.tensors.erase("blocks.1.norm2.bias");
  CHECK_THAT(runtime_error(missing), Catch::Contains("tensor 'blocks.1.norm2.bias' is missing"));
  auto extra = good;
  extra.tensors["blocks.9.norm2.bias"] = torch::zeros({4});
  CHECK_THAT(runtime_error(extra), Catch::Contains("tensor 'blocks.9.norm2.bias' is not part of the architecture"));
  auto reshaped = good;
  reshaped.tensors["pos_embed"] = reshaped.tensors["pos_embed"].narrow(1, 0, 3).contiguous();
  CHECK_THAT(runtime_error(reshaped), Catch::Contains("tensor 'pos_embed' has shape [1, 3,"));
  auto integer = good;
  integer.tensors["norm.weight"] = integer.tensors["norm.weight"].to(torch::kInt32);
  CHECK_THAT(runtime_error(integer), Catch::Contains("tensor 'norm.weight' has dtype I32, not a float dtype"));
  auto bad_code = good;
  bad_code.tensors["blocks.0.mlp.fc1.weight.packed"] = bad_code.tensors["blocks.0.mlp.fc1.weight.packed"].clone().fill_(0xff);
  CHECK_THAT(runtime_error(bad_code), Catch::Contains("'blocks.0.mlp.fc1.weight.packed' holds a byte that is no packed trits"));
  auto no_alpha = good;
  no_alpha.tensors.erase("head.alpha");
  CHECK_THAT(runtime_error(no_alpha), Catch::Contains("layer 'head' has packed weights but no α"));
  // α by the file's granularity, as the LibTorch loader reads it: one per channel here, a single one is wrong.
  auto layer_alpha = good;
  layer_alpha.tensors["blocks.0.attn.proj.alpha"] = torch::ones({1}, torch::kFloat16);
  CHECK_THAT(runtime_error(layer_alpha), Catch::Contains("tensor 'blocks.0.attn.proj.alpha' has shape [1], but the architecture in the metadata needs [48]"));
  auto layer_wise_file = good;
  layer_wise_file.metadata["quant"] = quant::quant_spec_json(ternary().granularity(quant::Granularity::kLayer));
  CHECK_THAT(runtime_error(layer_wise_file), Catch::Contains("has shape [48], but the architecture in the metadata needs [1]"));
  auto odd_granularity = good;
  odd_granularity.metadata["quant"] = R"({"weight_quant": "ternary", "granularity": "row"})";
  CHECK_THAT(runtime_error(odd_granularity), Catch::Contains("metadata 'quant' granularity is \"row\", expected \"channel\" or \"layer\""));
  auto wrong_family = good;
  wrong_family.metadata["family"] = "resnet";
  CHECK_THAT(runtime_error(wrong_family), Catch::Contains("metadata 'family' is 'resnet'"));
  auto zero_ratio = good;
  auto fields = nlohmann::json::parse(good.metadata.at("config"));
  fields["mlp_ratio"] = 0;
  zero_ratio.metadata["config"] = fields.dump();
  CHECK_THAT(runtime_error(zero_ratio), Catch::Contains("metadata 'config' field 'mlp_ratio' is not a number above 0"));
  auto wrong_config = good;
  wrong_config.metadata["config"] = R"({"img_size": 32})";
  CHECK_THAT(runtime_error(wrong_config), Catch::Contains("metadata 'config' has no 'patch_size'"));

  // A truncated file: the header's offsets run past its end.
  TempDir dir;
  write_safetensors(dir / "model.safetensors", good.tensors, good.metadata);
  std::filesystem::resize_file(dir / "model.safetensors", std::filesystem::file_size(dir / "model.safetensors") - 100);
  CHECK_THROWS_WITH(runtime::load_model(dir / "model.safetensors", PackedMode::kInt8),
                    Catch::Contains((dir / "model.safetensors").string()) && Catch::Contains("past the end"));
}

TEST_CASE("tervit-run times a packed model and reports its memory", "[runtime][cli]") {
  TempDir dir;
  const auto file = packed_fixture("swin_mini", ternary());
  write_safetensors(dir / "swin.safetensors", file.tensors, file.metadata);
  const auto run = testing::run(dir, "tervit-run", "--packed " + (dir / "swin.safetensors").string() + " --threads 2 --batch 2 --seconds 0");
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("batch 2: ") && Catch::Contains("images/s"));
  CHECK_THAT(run.err, Catch::Contains("swin, 10 classes, ") && Catch::Contains("mode int8, float attention, 2 thread(s)") &&
                          Catch::Contains("MB at the end"));
  const auto int8_attention =
      testing::run(dir, "tervit-run", "--packed " + (dir / "swin.safetensors").string() + " --attention int8 --seconds 0");
  CHECK(int8_attention.exit_code == 0);
  CHECK_THAT(int8_attention.err, Catch::Contains("mode int8, int8 attention, 1 thread(s)"));
  const auto unknown = testing::run(dir, "tervit-run", "--packed " + (dir / "swin.safetensors").string() + " --attention int4 --seconds 0");
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("--attention: unknown value 'int4'") && Catch::Contains("float, int8"));
  std::filesystem::resize_file(dir / "swin.safetensors", 1000);
  const auto bad = testing::run(dir, "tervit-run", "--packed " + (dir / "swin.safetensors").string());
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("swin.safetensors"));
}

TEST_CASE("tervit-run classifies JPEG and PNG images as tervit-eval --packed does, and names the ones it cannot read",
          "[runtime][cli]") {
  TempDir dir;
  auto file = packed_fixture("deit_mini", ternary());
  std::string class_names = "[";
  for (int c = 0; c < 10; ++c) class_names += std::string(c ? "," : "") + "\"class " + std::to_string(c) + "\"";
  file.metadata["class_names"] = class_names + "]";
  // A preprocessing of the run that exported the file (not timm's defaults): both must apply it.
  file.metadata["preprocess"] = R"({"crop_pct": 0.8, "interpolation": "bilinear", "mean": [0.5, 0.5, 0.5]})";
  const auto packed = (dir / "deit.safetensors").string();
  write_safetensors(packed, file.tensors, file.metadata);
  // Odd sizes: a colour JPEG, a gray PNG and a 16-bit colour PNG.
  cv::Mat colour(37, 53, CV_8UC3), gray(41, 29, CV_8UC1), deep(30, 45, CV_16UC3);
  cv::randu(colour, 0, 256);
  cv::randu(gray, 0, 256);
  cv::randu(deep, 0, 65536);
  cv::imwrite((dir / "a.jpg").string(), colour);
  cv::imwrite((dir / "b.png").string(), gray);
  cv::imwrite((dir / "c.png").string(), deep);
  const auto images = " --topk 3 --images " + (dir / "a.jpg").string() + " " + (dir / "b.png").string() + " " + (dir / "c.png").string();
  const auto ours = testing::run(dir, "tervit-run", "--packed " + packed + " --mode exact" + images);
  const auto theirs = testing::run(dir, "tervit-eval", "--packed " + packed + " --packed-mode exact --threads 1" + images);
  REQUIRE(ours.exit_code == 0);
  REQUIRE(theirs.exit_code == 0);
  const auto our_lines = testing::json_lines(ours.out), their_lines = testing::json_lines(theirs.out);
  REQUIRE(our_lines.size() == 3);
  REQUIRE(their_lines.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(our_lines[i]["image"] == their_lines[i]["image"]);
    CHECK(our_lines[i]["labels"] == their_lines[i]["labels"]);
    CHECK(our_lines[i]["labels"][0].get<std::string>().rfind("class ", 0) == 0);
    const auto logits = torch::tensor(our_lines[i]["logits"].get<std::vector<float>>());
    CHECK(relative_error(logits, torch::tensor(their_lines[i]["logits"].get<std::vector<float>>())) < 1e-5);
  }
  // The preprocessing matters: without it the logits differ.
  file.metadata.erase("preprocess");
  write_safetensors(packed, file.tensors, file.metadata);
  const auto defaults = testing::json_lines(testing::run(dir, "tervit-run", "--packed " + packed + " --mode exact" + images).out);
  REQUIRE(defaults.size() == 3);
  CHECK(relative_error(torch::tensor(defaults[0]["logits"].get<std::vector<float>>()),
                       torch::tensor(our_lines[0]["logits"].get<std::vector<float>>())) > 1e-3);

  // A BMP (OpenCV's codecs are not linked in) and a missing file: errors naming them; the others still run.
  cv::imwrite((dir / "d.bmp").string(), colour);
  const auto partial = testing::run(dir, "tervit-run", "--packed " + packed + " --images " + (dir / "d.bmp").string() + " " +
                                                           (dir / "a.jpg").string() + " " + (dir / "missing.png").string());
  CHECK(partial.exit_code == 3);
  CHECK(testing::json_lines(partial.out).size() == 1);
  CHECK_THAT(partial.err, Catch::Contains("d.bmp: not a JPEG") && Catch::Contains("missing.png"));
}

TEST_CASE("The runtime's float kernels: AVX2 equals the reference, and both equal LibTorch", "[runtime]") {
  REQUIRE(cpu_has_avx2());  // the build machines have it; elsewhere only the reference runs
  torch::manual_seed(5);
  const auto values = torch::randn({1003}) * 4;
  auto reference = torch::empty_like(values), fast = torch::empty_like(values);
  kernels::gelu_reference(values.data_ptr<float>(), values.numel(), reference.data_ptr<float>());
  kernels::gelu_avx2(values.data_ptr<float>(), values.numel(), fast.data_ptr<float>());
  const auto expected = torch::gelu(values);
  CHECK((reference - expected).abs().max().item<float>() < 1e-6);
  CHECK((fast - expected).abs().max().item<float>() < 1e-6);
  // Every piece of H, its ends and past them, against GELU in double: the pieces' error (6e-8) times |x|.
  const auto grid = torch::linspace(-9, 9, 14401);
  const auto exact = torch::gelu(grid.to(torch::kDouble));
  auto on_grid = torch::empty_like(grid);
  kernels::gelu_avx2(grid.data_ptr<float>(), grid.numel(), on_grid.data_ptr<float>());
  CHECK((on_grid.to(torch::kDouble) - exact).abs().max().item<double>() < 4e-7);
  kernels::gelu_reference(grid.data_ptr<float>(), grid.numel(), on_grid.data_ptr<float>());
  CHECK((on_grid.to(torch::kDouble) - exact).abs().max().item<double>() < 4e-7);
  // NaN stays NaN, +inf stays inf; zeros, the clamp at 6 and a piece's end as LibTorch.
  const auto special = torch::tensor({NAN, INFINITY, 0.0f, -0.0f, 6.0f, -6.0f, 0.75f, -0.75f});
  auto special_out = torch::empty_like(special);
  kernels::gelu_avx2(special.data_ptr<float>(), special.numel(), special_out.data_ptr<float>());
  CHECK(std::isnan(special_out[0].item<float>()));
  CHECK(special_out[1].item<float>() == INFINITY);
  CHECK((special_out.slice(0, 2) - torch::gelu(special.slice(0, 2))).abs().max().item<float>() < 1e-6);
  // The gradient against LibTorch's GeluBackward, for an upstream gradient of random signs and sizes.
  const auto grad = torch::randn({1003});
  const auto expected_grad = torch::gelu_backward(grad, values);
  kernels::gelu_backward_reference(values.data_ptr<float>(), grad.data_ptr<float>(), values.numel(), reference.data_ptr<float>());
  kernels::gelu_backward_avx2(values.data_ptr<float>(), grad.data_ptr<float>(), values.numel(), fast.data_ptr<float>());
  CHECK((reference - expected_grad).abs().max().item<float>() < 2e-6);
  CHECK((fast - expected_grad).abs().max().item<float>() < 2e-6);
  // AVX-512: the same operations on 16 lanes, the same bits (1003 values leave a tail of 11 to the AVX2
  // kernel; |values| up to about 16 take the exponential below its -87 floor).
  if (cpu_has_avx512()) {
    auto wide = torch::empty_like(values);
    kernels::gelu_avx2(values.data_ptr<float>(), values.numel(), fast.data_ptr<float>());
    kernels::gelu_avx512(values.data_ptr<float>(), values.numel(), wide.data_ptr<float>());
    CHECK(torch::equal(wide, fast));
    kernels::gelu_backward_avx2(values.data_ptr<float>(), grad.data_ptr<float>(), values.numel(), fast.data_ptr<float>());
    kernels::gelu_backward_avx512(values.data_ptr<float>(), grad.data_ptr<float>(), values.numel(), wide.data_ptr<float>());
    CHECK(torch::equal(wide, fast));
  } else {
    WARN("no AVX-512: its GELU was not compared");
  }
  reference = values.clone();
  fast = values.clone();
  kernels::softmax_reference(reference.data_ptr<float>(), reference.numel());
  kernels::softmax_avx2(fast.data_ptr<float>(), fast.numel());
  CHECK(relative_error(reference, values.softmax(0)) < 1e-6);
  CHECK(relative_error(fast, values.softmax(0)) < 1e-6);
  // LayerNorm rows of odd and model widths, one of them far off zero (a one-pass variance would cancel).
  for (const auto& [dim, offset] : {std::make_pair(1003, 0.0), std::make_pair(384, 0.0), std::make_pair(37, 1000.0)}) {
    CAPTURE(dim, offset);
    const auto row = torch::randn({dim}) + offset, weight = torch::randn({dim}), bias = torch::randn({dim});
    const auto expected_norm = torch::layer_norm(row.to(torch::kFloat64), {dim}, weight.to(torch::kFloat64), bias.to(torch::kFloat64), 1e-6)
                                   .to(torch::kFloat32);
    auto reference_norm = torch::empty_like(row), fast_norm = torch::empty_like(row);
    kernels::layer_norm_row_reference(row.data_ptr<float>(), dim, weight.data_ptr<float>(), bias.data_ptr<float>(), 1e-6f,
                                      reference_norm.data_ptr<float>());
    kernels::layer_norm_row_avx2(row.data_ptr<float>(), dim, weight.data_ptr<float>(), bias.data_ptr<float>(), 1e-6f,
                                 fast_norm.data_ptr<float>());
    // Far off zero, float subtraction of the mean itself loses the last digits, in either kernel.
    const double tolerance = offset > 0 ? 1e-3 : 1e-5;
    CHECK((reference_norm - expected_norm).abs().max().item<float>() < tolerance);
    CHECK((fast_norm - expected_norm).abs().max().item<float>() < tolerance);
    // The row kernels over NormRows: 3 rows, residual, each sum stored over its input (as the runtime
    // does), one row far off the others' scale.
    std::vector<std::pair<std::string, void (*)(const kernels::NormRows&, int64_t, const float*, const float*, float)>> row_kernels{
        {"reference", kernels::layer_norm_rows_reference}};
    if (cpu_has_avx2()) row_kernels.emplace_back("avx2", kernels::layer_norm_rows_avx2);
    if (cpu_has_avx512()) row_kernels.emplace_back("avx512", kernels::layer_norm_rows_avx512);
    if (row_kernels.size() < 3) WARN("this CPU lacks AVX2 or AVX-512: only " << row_kernels.size() << " LayerNorm row kernels ran");
    auto three = torch::randn({3, dim}) + offset;
    three[1] *= 1e3;
    const auto delta3 = torch::randn({3, dim});
    const auto summed3 = three + delta3;
    const auto expected3 = torch::layer_norm(summed3.to(torch::kFloat64), {dim}, weight.to(torch::kFloat64), bias.to(torch::kFloat64), 1e-6)
                               .to(torch::kFloat32);
    for (const auto& [name, kernel] : row_kernels) {
      CAPTURE(name);
      auto in = three.clone(), out = torch::full({3, dim}, 7.0f);
      kernels::NormRows rows;
      rows.count = 3;
      rows.residual = true;
      for (int64_t t = 0; t < 3; ++t) {
        rows.in[t] = rows.sum[t] = in[t].data_ptr<float>();
        rows.delta[t] = delta3[t].data_ptr<float>();
        rows.out[t] = out[t].data_ptr<float>();
      }
      kernel(rows, dim, weight.data_ptr<float>(), bias.data_ptr<float>(), 1e-6f);
      CHECK(torch::equal(in, summed3));  // each sum stored once, the float sum the residual add gives
      CHECK((out - expected3).abs().max().item<float>() < tolerance);
    }
    // residual_layer_norm through window orders, 35 rows (two runs of 16, then 3): x's rows order[t] take
    // delta's rows t, then y's rows t their LayerNorm (Swin's proj sum and norm2 read the other way);
    // then the LayerNorm alone scattered, x untouched.
    const auto x0 = torch::randn({35, dim}) + offset, delta = torch::randn({35, dim});
    const auto order = torch::randperm(35, torch::kInt64);
    auto x = x0.clone(), y = torch::empty({35, dim});
    kernels::residual_layer_norm({x.data_ptr<float>(), order.data_ptr<int64_t>()}, {delta.data_ptr<float>()}, 35, dim,
                                 weight.data_ptr<float>(), bias.data_ptr<float>(), 1e-6f, {y.data_ptr<float>()});
    const auto summed = x0.index_add(0, order, delta);
    CHECK(torch::equal(x, summed));
    const auto norm64 = [&](const torch::Tensor& t) {
      return torch::layer_norm(t.to(torch::kFloat64), {dim}, weight.to(torch::kFloat64), bias.to(torch::kFloat64), 1e-6)
          .to(torch::kFloat32);
    };
    CHECK((y - norm64(summed.index_select(0, order))).abs().max().item<float>() < tolerance);
    auto scattered = torch::full({35, dim}, 7.0f);
    kernels::residual_layer_norm({x.data_ptr<float>()}, {}, 35, dim, weight.data_ptr<float>(), bias.data_ptr<float>(), 1e-6f,
                                 {scattered.data_ptr<float>(), order.data_ptr<int64_t>()});
    CHECK(torch::equal(x, summed));
    CHECK((scattered.index_select(0, order) - norm64(summed)).abs().max().item<float>() < tolerance);
  }

  // Odd token counts and head sizes, with a bias and a region mask, heads read in place from a qkv buffer.
  // 17 x 40 and 33 x 24 cross the AVX-512 kernel's blocks of 8 queries and 16-lane vectors.
  const auto [tokens, head_dim] = GENERATE(std::make_pair(1, 8), std::make_pair(7, 5), std::make_pair(17, 40), std::make_pair(33, 24),
                                           std::make_pair(49, 32), std::make_pair(197, 64));
  CAPTURE(tokens, head_dim);
  const int64_t stride = 3 * head_dim + 3;
  const auto qkv = torch::randn({tokens, stride});
  const auto bias = torch::randn({tokens, tokens});
  const auto region = torch::randint(0, 3, {tokens}, torch::kInt32);
  kernels::AttentionHead head{qkv.data_ptr<float>(), qkv.data_ptr<float>() + head_dim, qkv.data_ptr<float>() + 2 * head_dim,
                              stride, tokens, head_dim, bias.data_ptr<float>(), region.data_ptr<int>()};
  // Outputs a row apart wider than a head, as the runtime writes them: nothing may land between the heads.
  const int64_t out_stride = head_dim + 2;
  const auto run = [&](auto kernel) {
    auto out = torch::full({tokens, out_stride}, 7.0f);
    kernel(head, out.data_ptr<float>(), out_stride);
    CHECK(torch::all(out.slice(1, head_dim) == 7.0f).item<bool>());
    return out.slice(1, 0, head_dim);
  };
  const auto q = qkv.slice(1, 0, head_dim), k = qkv.slice(1, head_dim, 2 * head_dim), v = qkv.slice(1, 2 * head_dim, 3 * head_dim);
  const auto mask = (region.unsqueeze(0) != region.unsqueeze(1)).to(torch::kFloat) * -100;
  const auto scores = torch::matmul(q / std::sqrt(static_cast<double>(head_dim)), k.t()) + bias + mask;
  const auto expected_out = torch::matmul(scores.softmax(-1), v);
  CHECK(relative_error(run(kernels::attention_head_reference), expected_out) < 1e-5);
  CHECK(relative_error(run(kernels::attention_head_avx2), expected_out) < 1e-5);
  if (cpu_has_avx512()) CHECK(relative_error(run(kernels::attention_head_avx512), expected_out) < 1e-5);
}

namespace {

// One head's float attention as the models compute it (LibTorch), for heads of a [q | k | v | pad] buffer.
torch::Tensor expected_attention(const torch::Tensor& qkv, int64_t head_dim, const torch::Tensor& bias, const torch::Tensor& region) {
  const auto q = qkv.slice(1, 0, head_dim), k = qkv.slice(1, head_dim, 2 * head_dim), v = qkv.slice(1, 2 * head_dim, 3 * head_dim);
  auto scores = torch::matmul(q / std::sqrt(static_cast<double>(head_dim)), k.t());
  if (bias.defined()) scores = scores + bias + (region.unsqueeze(0) != region.unsqueeze(1)).to(torch::kFloat) * -100;
  return torch::matmul(scores.softmax(-1), v);
}

// Runs an attention kernel on a head read in place from qkv (rows `stride` apart), its outputs written a
// row wider than the head, and checks that nothing lands past the head.
torch::Tensor run_attention(AttentionKernel kernel, const torch::Tensor& qkv, int64_t head_dim, const torch::Tensor& bias,
                            const torch::Tensor& region) {
  const int64_t tokens = qkv.size(0), out_stride = head_dim + 2;
  AttentionHead head{qkv.data_ptr<float>(), qkv.data_ptr<float>() + head_dim, qkv.data_ptr<float>() + 2 * head_dim, qkv.size(1), tokens,
                     head_dim};
  if (bias.defined()) {
    head.bias = bias.data_ptr<float>();
    head.region = region.data_ptr<int>();
  }
  auto out = torch::full({tokens, out_stride}, 7.0f);
  kernel(head, out.data_ptr<float>(), out_stride);
  CHECK(torch::all(out.slice(1, head_dim) == 7.0f).item<bool>());
  return out.slice(1, 0, head_dim);
}

}  // namespace

TEST_CASE("int8 attention: its kernels agree, and stay close to float attention", "[runtime]") {
  // 17 x 40 and 33 x 24 cross the blocks of 8 queries and the 16-lane vectors; 70 x 72 takes a second pass
  // of channels; 7 x 5 a head narrower than one group of 4.
  const auto [tokens, head_dim] = GENERATE(std::make_pair(1, 8), std::make_pair(7, 5), std::make_pair(17, 40), std::make_pair(33, 24),
                                           std::make_pair(49, 32), std::make_pair(70, 72), std::make_pair(197, 64));
  const bool with_bias = GENERATE(false, true);
  CAPTURE(tokens, head_dim, with_bias);
  const auto qkv = torch::randn({tokens, 3 * head_dim + 3});
  const auto bias = with_bias ? torch::randn({tokens, tokens}) : torch::Tensor();
  const auto region = with_bias ? torch::randint(0, 3, {tokens}, torch::kInt32) : torch::Tensor();
  const auto expected = expected_attention(qkv, head_dim, bias, region);
  const auto reference = run_attention(int8_attention_head_reference, qkv, head_dim, bias, region);
  // int8 queries, keys and values: about 1% off float attention on Gaussian inputs.
  CHECK(relative_error(reference, expected) < 2.5e-2);
  if (cpu_has_avx512_vnni()) {
    // The same integers; a weight whose exponential rounds differently moves by a 32767th.
    CHECK(relative_error(run_attention(int8_attention_head_avx512_vnni, qkv, head_dim, bias, region), reference) < 1e-4);
  } else {
    WARN("no AVX-512 VNNI: only the reference ran");
  }
}

TEST_CASE("attention kernels asked for the first queries give a full pass's rows and write no others", "[runtime]") {
  // DeiT's last block asks only for its class token (1) or class and distillation tokens (2); 9 crosses a
  // block of 8 queries.
  const int64_t tokens = 33, head_dim = 24, out_stride = head_dim + 2;
  const int64_t queries = GENERATE(1, 2, 9);
  const bool with_bias = GENERATE(false, true);
  CAPTURE(queries, with_bias);
  const auto qkv = torch::randn({tokens, 3 * head_dim + 3});
  const auto bias = torch::randn({tokens, tokens});
  const auto region = torch::randint(0, 3, {tokens}, torch::kInt32);
  AttentionHead head{qkv.data_ptr<float>(), qkv.data_ptr<float>() + head_dim, qkv.data_ptr<float>() + 2 * head_dim, qkv.size(1), tokens,
                     head_dim};
  if (with_bias) {
    head.bias = bias.data_ptr<float>();
    head.region = region.data_ptr<int>();
  }
  std::vector<std::pair<const char*, AttentionKernel>> kernels_here{
      {"float reference", attention_head_reference}, {"int8 reference", int8_attention_head_reference}};
  if (cpu_has_avx2()) kernels_here.emplace_back("float AVX2", attention_head_avx2);
  if (cpu_has_avx512()) kernels_here.emplace_back("float AVX-512", attention_head_avx512);
  if (cpu_has_avx512_vnni()) kernels_here.emplace_back("int8 AVX-512 VNNI", int8_attention_head_avx512_vnni);
  for (const auto& [name, kernel] : kernels_here) {
    CAPTURE(name);
    auto full = torch::full({tokens, out_stride}, 7.0f), first = full.clone();
    head.queries = 0;
    kernel(head, full.data_ptr<float>(), out_stride);
    head.queries = queries;
    kernel(head, first.data_ptr<float>(), out_stride);
    CHECK(torch::equal(first.slice(0, 0, queries), full.slice(0, 0, queries)));
    CHECK(torch::all(first.slice(0, queries) == 7.0f).item<bool>());
    CHECK_FALSE(torch::all(full.slice(0, queries) == 7.0f).item<bool>());
  }
}

TEST_CASE("int8 attention is exact where its inputs are integers, and its sums never overflow", "[runtime]") {
  // Rows whose largest |value| is 127 steps quantize without error (each row of q and k, each channel of
  // v), so only the weights' rounding to 1/32767 of the largest separates the kernels from float attention.
  const int64_t tokens = 41, head_dim = 24;
  auto qkv = torch::randint(-126, 127, {tokens, 3 * head_dim}).to(torch::kFloat);
  qkv.select(1, 0).fill_(127);                      // each query's largest
  qkv.select(1, head_dim).fill_(-127);              // each key's
  qkv.slice(1, 2 * head_dim).select(0, 5).fill_(127);  // each channel's
  qkv = qkv * 0.01f;  // scores of a few units
  const auto expected = expected_attention(qkv, head_dim, {}, {});
  CHECK(relative_error(run_attention(int8_attention_head_reference, qkv, head_dim, {}, {}), expected) < 1e-4);
  if (cpu_has_avx512_vnni()) CHECK(relative_error(run_attention(int8_attention_head_avx512_vnni, qkv, head_dim, {}, {}), expected) < 1e-4);

  // The largest sums: every score equal (zero queries), so every weight is the top, against values all at
  // their channel's largest. 600 tokens need a top below 32767 to fit 32 bits.
  CHECK(int8_attention_weight_top(197) == 32767);
  CHECK(int8_attention_weight_top(600) < 32767);
  CHECK(int64_t{127} * int8_attention_weight_top(600) * 600 < (int64_t{1} << 31));
  const int64_t many = 600, width = 16;
  auto flat = torch::zeros({many, 3 * width});
  flat.slice(1, width, 2 * width).normal_();
  flat.slice(1, 2 * width).fill_(3.5f);
  const auto all_values = flat.slice(1, 2 * width);
  CHECK(relative_error(run_attention(int8_attention_head_reference, flat, width, {}, {}), all_values) < 1e-6);
  if (cpu_has_avx512_vnni()) CHECK(relative_error(run_attention(int8_attention_head_avx512_vnni, flat, width, {}, {}), all_values) < 1e-6);
}
