// Hostile inputs the programs must survive (decompression bombs, file names that are not UTF-8, absurd
// sizes): no crash, the other inputs still processed, a clear message naming the culprit, the exit code
// that says what happened.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "test_deploy_helpers.h"
#include "test_train_helpers.h"
#include "models/registry.h"
#include "tervit/core/config.h"
#include "tervit/core/exit_codes.h"
#include "tervit/core/folder_lock.h"
#include "tervit/core/strings.h"
#include "tervit/data/image_folder.h"
#include "tervit/engine/checkpoint.h"

using namespace tervit;
using tervit::testing::TempDir;

namespace {

// A packed deit_mini (10 classes), two good images and a JPEG bomb in `dir`; returns the images in the
// order good, bomb, good.
std::vector<std::filesystem::path> bomb_among_images(const TempDir& dir) {
  const auto file = testing::packed_fixture("deit_mini", testing::ternary());
  write_safetensors(dir / "deit.packed", file.tensors, file.metadata);
  cv::Mat photo(40, 50, CV_8UC3);
  cv::randu(photo, 0, 256);
  std::vector<uint8_t> jpeg;
  REQUIRE(cv::imencode(".jpg", photo, jpeg));
  testing::write_bytes(dir / "good.jpg", jpeg);
  REQUIRE(cv::imwrite((dir / "good.png").string(), photo));
  testing::claim_jpeg_size(jpeg, 60000, 60000);
  testing::write_bytes(dir / "bomb.jpg", jpeg);
  return {dir / "good.jpg", dir / "bomb.jpg", dir / "good.png"};
}

std::string joined(const std::vector<std::filesystem::path>& paths) {
  std::string text;
  for (const auto& p : paths) text += " '" + p.string() + "'";
  return text;
}

}  // namespace

TEST_CASE("A JPEG bomb among images is refused by name while tervit-run and tervit-eval classify the others", "[hostile][cli]") {
  TempDir dir;
  const auto images = bomb_among_images(dir);
  for (const auto* program : {"tervit-run", "tervit-eval"}) {
    INFO(program);
    const auto run = testing::run(dir, program, "--threads 1 --packed " + (dir / "deit.packed").string() + " --images" + joined(images));
    CHECK(run.exit_code == kExitPartial);
    CHECK_THAT(run.err, Catch::Contains("bomb.jpg") && Catch::Contains("60000x60000") && Catch::Contains("over the limit"));
    const auto lines = testing::json_lines(run.out);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0]["image"] == images[0].string());
    CHECK(lines[1]["image"] == images[2].string());
  }
}

TEST_CASE("tervit-data check lists a JPEG bomb as a bad file instead of dying in a worker", "[hostile][cli]") {
  TempDir dir;
  const auto images = bomb_among_images(dir);
  std::filesystem::create_directories(dir / "set" / "a");
  for (const auto& image : images) std::filesystem::copy_file(image, dir / "set" / "a" / image.filename());
  const auto run = testing::run(dir, "tervit-data", "check " + (dir / "set").string() + " --threads 2");
  CHECK(run.exit_code == kExitPartial);
  CHECK_THAT(run.out + run.err, Catch::Contains("bomb.jpg") && Catch::Contains("over the limit"));
  CHECK_THAT(run.out + run.err, !Catch::Contains("good.jpg") && !Catch::Contains("good.png"));
}

TEST_CASE("An image file name that is not UTF-8 is printed with U+FFFD and the run goes on", "[hostile][cli]") {
  TempDir dir;
  const auto images = bomb_among_images(dir);
  const auto latin1 = dir / std::string("caf\xe9.jpg");  // "café" in Latin-1: not UTF-8
  std::filesystem::copy_file(images[0], latin1);
  for (const auto* program : {"tervit-run", "tervit-eval"}) {
    INFO(program);
    const auto run = testing::run(dir, program, "--threads 1 --packed " + (dir / "deit.packed").string() + " --images" +
                                                    joined({latin1, images[2]}));
    CHECK(run.exit_code == kExitOk);
    const auto lines = testing::json_lines(run.out);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0]["image"] == (dir / "caf\xef\xbf\xbd.jpg").string());  // U+FFFD in UTF-8
    CHECK(lines[1]["image"] == images[2].string());
  }
}

TEST_CASE("Absurd sizes are refused with the numbers: a batch beyond memory, an image side beyond any model", "[hostile][cli]") {
  TempDir dir;
  bomb_among_images(dir);
  const auto batch = testing::run(dir, "tervit-run", "--packed " + (dir / "deit.packed").string() + " --batch 100000000 --seconds 0");
  CHECK(batch.exit_code == kExitBadInput);
  CHECK_THAT(batch.err, Catch::Contains("--batch 100000000") && Catch::Contains("GB"));

  // A Swin file whose metadata claims img_size 917504: divisible as Swin needs, tied to no tensor's shape.
  auto file = testing::packed_fixture("swin_mini", testing::ternary());
  auto config = nlohmann::json::parse(file.metadata.at("config"));
  config["img_size"] = 917504;
  file.metadata["config"] = config.dump();
  write_safetensors(dir / "swin.packed", file.tensors, file.metadata);
  for (const auto* program : {"tervit-run", "tervit-eval"}) {
    INFO(program);
    const auto run = testing::run(dir, program, "--packed " + (dir / "swin.packed").string() + " --images " + (dir / "good.png").string());
    CHECK(run.exit_code == kExitBadInput);
    CHECK_THAT(run.err, Catch::Contains("img_size") && Catch::Contains("16384"));
  }
}

TEST_CASE("A FIFO given as a model, a config or an image is refused at once, never waited on", "[hostile][cli]") {
  TempDir dir;
  const auto images = bomb_among_images(dir);
  for (const auto* name : {"model.fifo", "config.fifo", "image.jpg"}) REQUIRE(::mkfifo((dir / name).c_str(), 0600) == 0);
  // `timeout` turns a hang into exit 124, which fails the checks instead of the whole test run.
  const auto packed = testing::run(dir, "tervit-run", "--packed " + (dir / "model.fifo").string(), "timeout 60 ");
  CHECK(packed.exit_code == kExitBadInput);
  CHECK_THAT(packed.err, Catch::Contains("model.fifo") && Catch::Contains("not a regular file"));
  const auto config = testing::run(dir, "tervit-train", "--config " + (dir / "config.fifo").string() + " --output " + (dir / "run").string(),
                                   "timeout 60 ");
  CHECK(config.exit_code == kExitBadInput);
  CHECK_THAT(config.err, Catch::Contains("config.fifo") && Catch::Contains("not a regular file"));
  for (const auto* program : {"tervit-run", "tervit-eval"}) {
    INFO(program);
    const auto run = testing::run(dir, program, "--threads 1 --packed " + (dir / "deit.packed").string() + " --images" +
                                                    joined({dir / "image.jpg", images[2]}), "timeout 60 ");
    CHECK(run.exit_code == kExitPartial);
    CHECK_THAT(run.err, Catch::Contains("image.jpg") && Catch::Contains("not a regular file"));
    CHECK(testing::json_lines(run.out).size() == 1);
  }
}

TEST_CASE("A symbolic link loop in a class folder is refused by name instead of multiplying the images", "[hostile][cli]") {
  TempDir dir;
  const auto images = bomb_among_images(dir);
  for (const auto* label : {"a", "b"}) {
    std::filesystem::create_directories(dir / "set" / label);
    std::filesystem::copy_file(images[0], dir / "set" / label / "x.jpg");
  }
  const auto before = testing::run(dir, "tervit-data", "check " + (dir / "set").string());
  CHECK(before.exit_code == kExitOk);
  std::filesystem::create_directory_symlink("..", dir / "set" / "a" / "up");
  const auto loop = testing::run(dir, "tervit-data", "check " + (dir / "set").string(), "timeout 60 ");
  CHECK(loop.exit_code == kExitBadInput);
  CHECK_THAT(loop.err, Catch::Contains("up") && Catch::Contains("already indexed"));
}

TEST_CASE("A run folder is locked while a run writes it", "[hostile][train]") {
  TempDir dir;
  {
    const FolderLock lock(dir / "run");
    CHECK_THROWS_WITH(FolderLock(dir / "run"), Catch::Contains("in use by another process (pid " + std::to_string(::getpid()) + ","));
    // tervit-train stops before writing anything into the folder another run holds.
    const auto train = testing::run(dir, "tervit-train", "--config " + testing::write_train_config(dir) + " --output " + (dir / "run").string());
    CHECK(train.exit_code == kExitBadInput);
    CHECK_THAT(train.err, Catch::Contains("in use by another process"));
    CHECK_FALSE(std::filesystem::exists(dir / "run" / "config.yaml"));
  }
  CHECK_NOTHROW(FolderLock(dir / "run"));  // released with its holder
}

TEST_CASE("A run folder holding only best checkpoints is not overwritten, with or without --resume auto", "[hostile][train]") {
  TempDir dir;
  const auto best = dir / "run" / "checkpoints" / "best-fp";
  std::filesystem::create_directories(best);
  testing::write_bytes(best / "model.safetensors", {1, 2, 3});
  const auto config = testing::write_train_config(dir);
  const auto plain = testing::run(dir, "tervit-train", "--config " + config + " --output " + (dir / "run").string());
  CHECK(plain.exit_code == kExitBadInput);
  CHECK_THAT(plain.err, Catch::Contains("already holds checkpoints") && Catch::Contains("best-fp"));
  const auto automatic = testing::run(dir, "tervit-train", "--config " + config + " --output " + (dir / "run").string() + " --resume auto");
  CHECK(automatic.exit_code == kExitBadInput);
  CHECK_THAT(automatic.err, Catch::Contains("no step checkpoint"));
  CHECK(testing::read_bytes(best / "model.safetensors") == std::vector<uint8_t>{1, 2, 3});
  CHECK_FALSE(std::filesystem::exists(dir / "run" / "metrics.jsonl"));
}

TEST_CASE("An epoch's best checkpoint is written before its step checkpoint, which records it as written", "[hostile][train]") {
  // Killed between the two writes, a run then resumes from the step before and writes the best again;
  // the other order lost the best checkpoint for good.
  TempDir dir;
  const auto run = testing::run(dir, "tervit-train", "--config " + testing::write_train_config(dir) + " --output " + (dir / "run").string());
  REQUIRE(run.exit_code == kExitOk);
  const auto last_step = testing::final_checkpoint(dir / "run");
  const auto best = dir / "run" / "checkpoints" / "best-ternary";
  REQUIRE(std::filesystem::exists(best / "trainer_state.json"));
  CHECK(testing::read_text(best / "trainer_state.json") == testing::read_text(last_step / "trainer_state.json"));
  CHECK(std::filesystem::last_write_time(best / "trainer_state.json") <= std::filesystem::last_write_time(last_step / "trainer_state.json"));
}

TEST_CASE("Configs with duplicate keys or nested YAML aliases are refused by name, never walked for ever", "[hostile][config]") {
  TempDir dir;
  std::ofstream(dir / "twice.yaml") << "model: {name: deit_tiny_patch16_224}\ndata: {batch_size: 8}\nstages: []\ndata: {batch_size: 64}\n";
  CHECK_THAT(testing::error_message([&] { load_yaml_file(dir / "twice.yaml"); }), Catch::Contains("'data'") && Catch::Contains("twice"));
  std::ofstream(dir / "nested.yaml") << "model: {name: deit, architecture: {num_classes: 10, num_classes: 20}}\n";
  CHECK_THAT(testing::error_message([&] { load_yaml_file(dir / "nested.yaml"); }), Catch::Contains("model.architecture.num_classes"));
  // Nine levels of ten aliases each: 10^9 values once expanded, from a file of under a kilobyte.
  std::ofstream bomb(dir / "bomb.yaml");
  bomb << "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    bomb << "a" << i << ": &a" << i << " [";
    for (int j = 0; j < 10; ++j) bomb << (j ? ", " : "") << "*a" << i - 1;
    bomb << "]\n";
  }
  bomb.close();
  CHECK_THAT(testing::error_message([&] { load_yaml_file(dir / "bomb.yaml"); }), Catch::Contains("aliases"));
}

TEST_CASE("Step checkpoints are ordered by their number, past step 10^9 too", "[hostile][train]") {
  TempDir dir;
  for (const auto* name : {"step-000000007", "step-999999999", "step-1000000000", "step-12000000000"}) {
    std::filesystem::create_directories(dir / name);
    testing::write_bytes(dir / name / "trainer_state.json", {'{', '}'});
  }
  const auto steps = engine::step_checkpoints(dir.path());
  REQUIRE(steps.size() == 4);
  CHECK(steps[0].filename() == "step-000000007");
  CHECK(steps[1].filename() == "step-999999999");
  CHECK(steps[2].filename() == "step-1000000000");
  CHECK(steps[3].filename() == "step-12000000000");
}

TEST_CASE("tervit-run's command-line errors exit 2 like every other program's", "[hostile][cli]") {
  TempDir dir;
  bomb_among_images(dir);
  for (const auto* args : {"--packed", "--packed /nonexistent.packed", "--threads 0", "--frobnicate"}) {
    INFO(args);
    CHECK(testing::run(dir, "tervit-run", args).exit_code == kExitBadInput);
  }
  CHECK(testing::run(dir, "tervit-run", "--help").exit_code == kExitOk);
}

TEST_CASE("Numeric options refuse NaN, infinities and values out of range, exiting 2", "[hostile][cli]") {
  TempDir dir;
  const auto images = bomb_among_images(dir);
  const auto eval = "--packed " + (dir / "deit.packed").string() + " --images " + images[0].string();
  const std::vector<std::pair<std::string, std::string>> cases{
      {"tervit-eval", eval + " --crop-pct 0"},
      {"tervit-eval", eval + " --crop-pct nan"},
      {"tervit-eval", eval + " --std 0.2 -1 0.2"},
      {"tervit-eval", eval + " --mean 0.5 nan 0.5"},
      {"tervit-run", "--packed " + (dir / "deit.packed").string() + " --seconds inf"},
      // Thread counts far beyond any machine are refused, not started.
      {"tervit-eval", eval + " --threads 100000"},
      {"tervit-eval", eval + " --workers 100000"},
      {"tervit-run", "--packed " + (dir / "deit.packed").string() + " --threads 100000 --seconds 0"},
      {"tervit-data", "check " + dir.path().string() + " --threads 100000"},
      {"tervit-export", "--weights " + testing::timm_fixture("deit_mini.safetensors").string() + " --delta nan --out " + (dir / "x").string()},
      {"tervit-data", "fashion-mnist --out " + (dir / "fm").string() + " --limit -5"},
  };
  for (const auto& [program, args] : cases) {
    INFO(program << " " << args);
    const auto run = testing::run(dir, program, args, "timeout 60 ");
    CHECK(run.exit_code == kExitBadInput);
  }
  CHECK_FALSE(std::filesystem::exists(dir / "x"));
  CHECK_FALSE(std::filesystem::exists(dir / "fm"));
}

TEST_CASE("A packed file's scales and quantizer are checked by both loaders: NaN or negative α, a non-ternary quantizer",
          "[hostile][cli]") {
  TempDir dir;
  const auto images = bomb_among_images(dir);
  const auto good = testing::packed_fixture("deit_mini", testing::ternary());
  std::string alpha_name;
  for (const auto& [name, tensor] : good.tensors)
    if (ends_with(name, kernels::kAlphaSuffix)) alpha_name = name;
  REQUIRE_FALSE(alpha_name.empty());
  const auto damaged = [&](const std::string& file, const std::function<void(SafetensorsData&)>& damage) {
    auto copy = good;
    copy.tensors[alpha_name] = good.tensors.at(alpha_name).clone();
    damage(copy);
    write_safetensors(dir / file, copy.tensors, copy.metadata);
    return file;
  };
  const std::vector<std::pair<std::string, std::string>> cases{
      {damaged("nan.packed", [&](SafetensorsData& f) { f.tensors[alpha_name][1] = std::nan(""); }), "row 1"},
      {damaged("negative.packed", [&](SafetensorsData& f) { f.tensors[alpha_name][0] = -0.5; }), "row 0"},
      {damaged("int8.packed",
               [&](SafetensorsData& f) {
                 auto quant = nlohmann::json::parse(f.metadata.at("quant"));
                 quant["weight_quant"] = "int8";
                 f.metadata["quant"] = quant.dump();
               }),
       "weight_quant \"int8\""},
  };
  for (const auto& [file, expected] : cases)
    for (const auto* program : {"tervit-run", "tervit-eval"}) {
      INFO(program << " " << file);
      const auto run = testing::run(dir, program, "--threads 1 --packed " + (dir / file).string() + " --images " + images[0].string());
      CHECK(run.exit_code == kExitBadInput);
      CHECK_THAT(run.err, Catch::Contains(file) && Catch::Contains(expected));
    }
}

TEST_CASE("A packed model that does not take RGB images is refused before any image is decoded into it", "[hostile][cli]") {
  // tervit-run wrote 3 planes into a buffer of in_chans planes: a heap overrun for in_chans 1.
  TempDir dir;
  const auto images = bomb_among_images(dir);
  const auto architecture = models::model_architecture(
      "deit", YAML::Load("{img_size: 28, patch_size: 7, embed_dim: 24, depth: 1, num_heads: 2, num_classes: 10, in_chans: 1}"));
  auto model = models::create_model(architecture);
  models::apply_quant_spec(*model, testing::ternary());
  model->eval();
  torch::NoGradGuard no_grad;
  const auto file = deploy::pack_model(*model, architecture, testing::ternary(), {});
  write_safetensors(dir / "grey.packed", file.tensors, file.metadata);
  for (const auto* program : {"tervit-run", "tervit-eval"}) {
    INFO(program);
    const auto run = testing::run(dir, program, "--threads 1 --packed " + (dir / "grey.packed").string() + " --images " + images[0].string());
    CHECK(run.exit_code == kExitBadInput);
    CHECK_THAT(run.err, Catch::Contains("1-channel") && Catch::Contains("3 channels"));
  }
}

TEST_CASE("A damaged index cache is ignored and the folder indexed again", "[hostile][data]") {
  TempDir dir;
  for (const auto* label : {"a", "b"}) {
    std::filesystem::create_directories(dir / "set" / label);
    REQUIRE(cv::imwrite((dir / "set" / label / "x.png").string(), cv::Mat(4, 4, CV_8UC3, cv::Scalar(9, 9, 9))));
  }
  const auto expected = data::scan_image_folder(dir / "set");
  const auto cache = data::index_cache_path(dir / "set");
  data::load_image_folder(dir / "set");
  const auto written = testing::read_text(cache);
  REQUIRE_THAT(written, Catch::Contains("samples 2\n0 a/x.png\n"));
  const auto replaced = [&](const std::string& from, const std::string& to) {
    auto text = written;
    return text.replace(text.find(from), from.size(), to);
  };
  const std::vector<std::pair<std::string, std::string>> damages{
      {"a count of 10^18", replaced("samples 2\n", "samples 1000000000000000000\n")},
      {"a path leaving the folder", replaced("0 a/x.png\n", "0 ../../a/x.png\n")},
      {"an absolute path", replaced("0 a/x.png\n", "0 /etc/passwd\n")},
      {"a label out of range", replaced("0 a/x.png\n", "7 a/x.png\n")},
      {"a truncated file", written.substr(0, written.size() / 2)},
  };
  const auto check_indexed_again = [&] {
    const auto loaded = data::load_image_folder(dir / "set");
    REQUIRE(loaded.samples.size() == expected.samples.size());
    for (size_t i = 0; i < loaded.samples.size(); ++i) {
      CHECK(loaded.samples[i].path == expected.samples[i].path);
      CHECK(loaded.samples[i].label == expected.samples[i].label);
    }
    CHECK(testing::read_text(cache) == written);  // rewritten whole
  };
  for (const auto& [damage, text] : damages) {
    INFO(damage);
    std::ofstream(cache, std::ios::trunc) << text;
    check_indexed_again();
  }
  std::filesystem::remove(cache);
  REQUIRE(::mkfifo(cache.c_str(), 0600) == 0);  // would block a plain open for ever
  check_indexed_again();
}

TEST_CASE("The pixel budget is set by TERVIT_MAX_IMAGE_PIXELS, and a bad value is named", "[hostile][cli]") {
  TempDir dir;
  const auto images = bomb_among_images(dir);  // 50x40 = 2000 pixels each
  const auto args = "--threads 1 --packed " + (dir / "deit.packed").string() + " --images " + images[0].string() + " " + images[2].string();
  const auto small = testing::run(dir, "tervit-eval", args, "TERVIT_MAX_IMAGE_PIXELS=1999 ");
  CHECK(small.exit_code == kExitPartial);
  CHECK_THAT(small.err, Catch::Contains("good.png") && Catch::Contains("50x40") && Catch::Contains("over the limit of 1999"));
  CHECK(testing::run(dir, "tervit-eval", args, "TERVIT_MAX_IMAGE_PIXELS=2000 ").exit_code == kExitOk);
  const auto bad = testing::run(dir, "tervit-run", args, "TERVIT_MAX_IMAGE_PIXELS=many ");
  CHECK_THAT(bad.err, Catch::Contains("TERVIT_MAX_IMAGE_PIXELS") && Catch::Contains("'many'"));
}
