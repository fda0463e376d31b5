#pragma once
// Shared by the test suites: fixture paths, scratch folders and output comparison.
#include <torch/torch.h>

#include <filesystem>
#include <string>

namespace tervit::testing {

inline std::filesystem::path shared_dir() { return TERVIT_SHARED_DIR; }
inline std::filesystem::path timm_fixture(const std::string& file) { return shared_dir() / "fixtures" / "timm" / file; }

// A fresh folder under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// ||actual - expected|| / ||expected||, the golden tests' error measure.
inline double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  return ((actual - expected).norm() / expected.norm()).item<double>();
}

}  // namespace tervit::testing
