#pragma once
// Shared by the test suites: fixture paths, scratch folders and output comparison.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "models/vision_model.h"
#include "tervit/core/error.h"

namespace tervit::testing {

// The checkout, the programs and ../shared: where the suite was built, unless TERVIT_SOURCE_DIR,
// TERVIT_BINARY_DIR or TERVIT_SHARED_DIR in the environment say otherwise (the Docker image's check runs
// the installed programs against a mounted checkout).
std::filesystem::path source_dir();
std::filesystem::path binary_dir();
std::filesystem::path shared_dir();
inline std::filesystem::path timm_fixture(const std::string& file) { return shared_dir() / "fixtures" / "timm" / file; }
// The shared timm fixture `name` (deit_mini, swin_mini) as a tervit model with its weights, in eval mode,
// built from the constructor arguments timm recorded in its metadata.
models::VisionModel fixture_model(const std::string& name);

// A fresh folder under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // Names of the folder's direct entries, sorted.
  std::vector<std::string> entries() const;

 private:
  std::filesystem::path path_;
};

std::vector<uint8_t> read_bytes(const std::filesystem::path& path);
std::string read_text(const std::filesystem::path& path);
// Writes the first `count` bytes (all by default), replacing the file.
void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes, size_t count = SIZE_MAX);

// Rewrites a JPEG's start-of-frame header (baseline or progressive) to claim width x height pixels: a
// decompression bomb of a few kilobytes.
void claim_jpeg_size(std::vector<uint8_t>& jpeg, uint16_t width, uint16_t height);

// A tervit executable's exit code and output, run from the build folder.
struct Run {
  int exit_code;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs `program` with `args` (shell-quoted where needed); output goes through files in `dir`. `shell_setup`
// runs in the same shell first (e.g. "ulimit -f 32; " to limit file sizes).
Run run(const TempDir& dir, const std::string& program, const std::string& args, const std::string& shell_setup = "");
// The JSON objects of a program's output, one per non-empty line (tervit-eval's and tervit-run's predictions).
std::vector<nlohmann::json> json_lines(const std::string& text);
// Runs a shell command line (e.g. a script of tools/ around an executable); output as for run().
Run run_command(const TempDir& dir, const std::string& command_line);
// The path of a tervit executable in the build folder.
std::string executable(const std::string& program);

// A tervit executable started in the background (stdout and stderr to files in `dir`), for tests that
// signal or kill it while it runs. `environment`: "NAME=value ..." added to its environment.
int spawn(const TempDir& dir, const std::string& program, const std::string& args, const std::string& environment = "");
// Waits for a spawned process; its exit code, or -signal when a signal ended it.
int wait_for(int pid);
// The exit code when the process has ended, nullopt while it runs.
std::optional<int> exit_code_if_done(int pid);

// A TCP port on the loopback interface that nothing listens on (bound and released: free for the
// test's next moments), for the rendezvous of data-parallel tests.
int free_port();

// Reports the running test case as skipped (ctest reads this line: SKIP_REGULAR_EXPRESSION in CMakeLists.txt),
// for a test whose premise this host lacks. The caller returns after it.
void skip_test(const std::string& reason);

// The message of the tervit::Error `body` throws, or "" when it returns.
template <typename Body>
std::string error_message(Body body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// ||actual - expected|| / ||expected||, the golden tests' error measure.
inline double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  return ((actual - expected).norm() / expected.norm()).item<double>();
}

}  // namespace tervit::testing
