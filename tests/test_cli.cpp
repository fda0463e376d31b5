// The executables end to end: exit codes, stdout JSON and error messages, as a user sees them.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <yaml-cpp/yaml.h>

#include "test_helpers.h"

using tervit::testing::json_lines;
using tervit::testing::read_text;
using tervit::testing::run;
using tervit::testing::TempDir;
using tervit::testing::timm_fixture;

TEST_CASE("tervit-eval prints one JSON line per image and names an unreadable one", "[cli]") {
  TempDir dir;
  cv::Mat image(80, 100, CV_8UC3, cv::Scalar(30, 120, 200));
  cv::imwrite((dir / "a.png").string(), image);
  cv::imwrite((dir / "b.jpg").string(), image);
  std::ofstream(dir / "broken.jpg") << "not an image";
  std::ofstream names(dir / "names.txt");
  for (int i = 0; i < 10; ++i) names << "class" << i << "\n";
  names.close();

  // --device cpu: the BLAS line belongs to the CPU, and auto would pick a GPU where there is one.
  const auto images = (dir / "a.png").string() + " " + (dir / "broken.jpg").string() + " " + (dir / "b.jpg").string();
  const auto result = run(dir, "tervit-eval", "--weights " + timm_fixture("deit_mini.safetensors").string() +
                                                  " --device cpu --threads 1 --topk 3 --class-names " + (dir / "names.txt").string() +
                                                  " --images " + images);
  CHECK(result.exit_code == 3);
  CHECK_THAT(result.err, Catch::Contains("broken.jpg"));
  CHECK_THAT(result.err, Catch::Contains("LibTorch") && Catch::Contains("BLAS"));
  const auto lines = json_lines(result.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["image"] == (dir / "a.png").string());
  CHECK(lines[1]["image"] == (dir / "b.jpg").string());
  for (const auto& line : lines) {
    REQUIRE(line["topk"].size() == 3);
    REQUIRE(line["logits"].size() == 10);
    REQUIRE(line["labels"].size() == 3);
    // The top class is the arg-max of the logits, and probabilities decrease.
    std::vector<double> logits = line["logits"];
    const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
    CHECK(line["topk"][0][0] == best);
    CHECK(line["labels"][0] == "class" + std::to_string(best));
    CHECK(line["topk"][0][1].get<double>() >= line["topk"][1][1].get<double>());
  }
}

TEST_CASE("tervit-eval rejects bad models and weights with exit code 2", "[cli]") {
  TempDir dir;
  cv::imwrite((dir / "a.png").string(), cv::Mat(64, 64, CV_8UC3, cv::Scalar(1, 2, 3)));
  const auto image = " --images " + (dir / "a.png").string();
  auto result = run(dir, "tervit-eval", "--model deit_tinny --weights " + timm_fixture("deit_mini.safetensors").string() + image);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("deit_tinny") && Catch::Contains("deit_tiny_patch16_224"));

  result = run(dir, "tervit-eval", "--model deit_tiny_patch16_224 --weights " + timm_fixture("deit_mini.safetensors").string() + image);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("blocks.0.attn.proj.weight") || Catch::Contains("cls_token") || Catch::Contains("pos_embed"));

  std::ofstream(dir / "truncated.safetensors") << read_text(timm_fixture("deit_mini.safetensors")).substr(0, 1000);
  result = run(dir, "tervit-eval", "--weights " + (dir / "truncated.safetensors").string() + image);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("truncated.safetensors"));
  CHECK(result.out.empty());
}

TEST_CASE("tervit-train names a wrong config key and writes nothing", "[cli]") {
  TempDir dir;
  std::ofstream(dir / "run.yaml") << "model: {name: deit_tiny_patch16_224, architecture: {img_size: 32, num_classes: 10}}\n"
                                     "stages: [{name: fp, epochs: 1}]\n";
  auto result = run(dir, "tervit-train", "--config " + (dir / "run.yaml").string() + " --set data.batchsize=3 --output " + (dir / "bad").string());
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("data.batchsize") && Catch::Contains("batch_size"));
  CHECK_FALSE(std::filesystem::exists(dir / "bad"));

  result = run(dir, "tervit-train", "--help");
  CHECK(result.exit_code == 0);
  CHECK_THAT(result.out, Catch::Contains("--config") && Catch::Contains("--resume"));
}
