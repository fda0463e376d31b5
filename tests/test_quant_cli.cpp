// tervit-eval as the post-training quantization baseline: quantizer options, size report, errors.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <opencv2/imgcodecs.hpp>

#include "models/model_metadata.h"
#include "models/apply_quant_spec.h"
#include "models/pretrained.h"
#include "test_helpers.h"
#include "tervit/quant/model_size.h"
#include "tervit/quant/quant_spec.h"

using tervit::testing::read_text;
using tervit::testing::TempDir;
using tervit::testing::timm_fixture;

namespace {

// tervit-eval on the deit_mini fixture and one image, with extra `args`.
tervit::testing::Run eval_deit_mini(const TempDir& dir, const std::string& args) {
  const auto image = dir / "a.png";
  cv::imwrite(image.string(), cv::Mat(70, 90, CV_8UC3, cv::Scalar(30, 120, 200)));
  return tervit::testing::run(dir, "tervit-eval", "--threads 1 --weights " + timm_fixture("deit_mini.safetensors").string() +
                                                      " --images " + image.string() + " " + args);
}

// The size line tervit-eval should log for the fixture under `spec`, computed in process.
std::string expected_size(const tervit::quant::QuantSpec& spec) {
  const auto weights = tervit::read_safetensors(timm_fixture("deit_mini.safetensors"));
  auto model = tervit::models::create_model(*tervit::models::architecture_from_metadata(weights.metadata));
  tervit::models::apply_quant_spec(*model, spec);
  return tervit::quant::model_size(*model).summary();
}

}  // namespace

TEST_CASE("tervit-eval quantizes the loaded weights and logs the model size", "[quant][cli]") {
  using namespace tervit::quant;
  TempDir dir;
  const auto fp = eval_deit_mini(dir, "");
  REQUIRE(fp.exit_code == 0);
  CHECK_THAT(fp.err, Catch::Contains("weights fp: " + expected_size(QuantSpec())));

  const auto ternary = eval_deit_mini(dir, "--weight-quant ternary");
  REQUIRE(ternary.exit_code == 0);
  const auto spec = QuantSpec().weight_quant(WeightQuant::kTernary);
  CHECK_THAT(ternary.err, Catch::Contains("weights ternary (channel-wise, delta 0.7): " + expected_size(spec)));
  const auto logits = [](const std::string& out) { return nlohmann::json::parse(out)["logits"].get<std::vector<double>>(); };
  CHECK(logits(ternary.out) != logits(fp.out));

  const auto partial = eval_deit_mini(dir, "--weight-quant ternary --delta 0.5 --granularity layer --keep-first-last");
  REQUIRE(partial.exit_code == 0);
  const auto partial_spec = QuantSpec().weight_quant(WeightQuant::kTernary).delta(0.5).granularity(Granularity::kLayer).keep_first_last(true);
  CHECK_THAT(partial.err, Catch::Contains(describe(partial_spec) + ": " + expected_size(partial_spec)));
  CHECK(logits(partial.out) != logits(ternary.out));

  const auto int8 = eval_deit_mini(dir, "--weight-quant int8 --activation-quant absmax_token --quant-exclude 'blocks.1.*'");
  REQUIRE(int8.exit_code == 0);
  CHECK_THAT(int8.err, Catch::Contains("int8 (channel-wise), 8-bit inputs (absmax_token)"));
  CHECK_THAT(int8.err, Catch::Contains(expected_size(QuantSpec().weight_quant(WeightQuant::kInt8).exclude({"blocks.1.*"}))));
}

TEST_CASE("tervit-eval rejects unknown quantizer options with exit code 2", "[quant][cli]") {
  TempDir dir;
  auto result = eval_deit_mini(dir, "--weight-quant ternery");
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("--weight-quant: unknown value 'ternery' (did you mean 'ternary'?)"));
  CHECK(result.out.empty());
  result = eval_deit_mini(dir, "--weight-quant ternary --delta -1");
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("--delta"));
}
