// tervit-data: prepares and checks data sets on disk.
//   tervit-data fashion-mnist --out data/fashion-mnist [--source DIR] [--limit N]
//   tervit-data check DIR [--threads N]     lists every file a training run would skip (exit 3 if any)
#include <cstdint>
#include <iostream>
#include <limits>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "tervit/core/thread_budget.h"
#include "tervit/libtorch/app.h"
#include "tervit/libtorch/process.h"
#include "tervit/data/check.h"
#include "tervit/data/idx.h"
#include "tervit/data/image_folder.h"

int main(int argc, char** argv) {
  CLI::App app{"Prepare and check data sets for tervit"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")->capture_default_str();

  CLI::App* fashion = app.add_subcommand("fashion-mnist", "Export Fashion-MNIST as an ImageFolder of PNGs");
  std::string out_dir;
  std::string source_dir = "/usr/share/datasets/fashion-mnist";
  int64_t limit = -1;
  fashion->add_option("--out", out_dir, "Output folder (gets train/, val/, classes.txt)")->required();
  fashion->add_option("--source", source_dir, "Folder with the Fashion-MNIST IDX files")->capture_default_str();
  fashion->add_option("--limit", limit, "Keep only the first N images of each split (-1: all)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{-1}, std::numeric_limits<int64_t>::max()));

  CLI::App* check = app.add_subcommand("check", "Decode every image of an ImageFolder and list the bad files on stdout");
  std::string check_dir;
  int threads = 2;
  check->add_option("DIR", check_dir, "ImageFolder root (one subfolder per class)")->required();
  check->add_option("--threads", threads, "Decoding threads")->capture_default_str()->check(CLI::Range(1, tervit::kMaxThreads));

  return tervit::run_app(app, argc, argv, [&] {
    tervit::ProcessOptions process;
    process.log_level = log_level;
    process.device = "cpu";
    tervit::start_process("tervit-data", process);
    if (*fashion) {
      tervit::data::export_fashion_mnist(source_dir, out_dir, limit);
      return tervit::kExitOk;
    }
    const auto dataset = tervit::data::scan_image_folder(check_dir);
    const auto bad = tervit::data::find_bad_files(dataset.samples, threads);
    for (const auto& file : bad) std::cout << file.reason << '\n';
    spdlog::info("{}: {} images checked, {} bad", check_dir, dataset.samples.size(), bad.size());
    return bad.empty() ? tervit::kExitOk : tervit::kExitPartial;
  });
}
