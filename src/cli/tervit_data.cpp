// tervit-data: prepares data sets on disk. Today: Fashion-MNIST (IDX files) -> ImageFolder of PNGs.
//   tervit-data fashion-mnist --out data/fashion-mnist [--source DIR] [--limit N]
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "tervit/core/app.h"
#include "tervit/core/runtime.h"
#include "tervit/data/idx.h"

int main(int argc, char** argv) {
  CLI::App app{"Prepare data sets for tervit"};
  app.require_subcommand(1);
  CLI::App* fashion = app.add_subcommand("fashion-mnist", "Export Fashion-MNIST as an ImageFolder of PNGs");
  std::string out_dir;
  std::string source_dir = "/usr/share/datasets/fashion-mnist";
  int64_t limit = -1;
  std::string log_level = "info";
  fashion->add_option("--out", out_dir, "Output folder (gets train/, val/, classes.txt)")->required();
  fashion->add_option("--source", source_dir, "Folder with the Fashion-MNIST IDX files")->capture_default_str();
  fashion->add_option("--limit", limit, "Keep only the first N images of each split (-1: all)")->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")->capture_default_str();

  return tervit::run_app(app, argc, argv, [&] {
    tervit::init_logging(log_level);
    tervit::data::export_fashion_mnist(source_dir, out_dir, limit);
    return tervit::kExitOk;
  });
}
