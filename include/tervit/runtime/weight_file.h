#pragma once
// A packed model file's tensors as the runtime takes them, by timm name, each checked against the shape the
// architecture needs and taken once: a tensor missing, of another shape or dtype, or left over at the end is
// a tervit::Error naming the file and the tensor.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tervit/core/safetensors_header.h"
#include "tervit/kernels/packed_matrix.h"
#include "tervit/runtime/linear.h"

namespace tervit::runtime {

class WeightFile {
 public:
  WeightFile(std::vector<uint8_t> bytes, std::string source);
  // The entries point into the file's own header and bytes: moving keeps them valid, copying would not.
  WeightFile(WeightFile&&) = default;
  WeightFile(const WeightFile&) = delete;
  WeightFile& operator=(const WeightFile&) = delete;
  static WeightFile read(const std::filesystem::path& path);

  const std::string& source() const { return source_; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }

  // A float tensor (F32, F16 or BF16 in the file) of exactly `shape`, as float32.
  std::vector<float> take_floats(const std::string& name, const std::vector<int64_t>& shape);
  // The matrix layer `prefix` whose weight has `weight_shape` (rows first; a conv's [rows, C, k, k] is
  // rows x C·k·k): packed (prefix.weight.packed and prefix.alpha, channel- or layer-wise) or in float
  // (prefix.weight), with prefix.bias when `bias`.
  Linear take_linear(const std::string& prefix, const std::vector<int64_t>& weight_shape, bool bias, kernels::PackedBits bits);
  // Throws when a tensor was never taken: the file holds more than the architecture in its metadata.
  void check_all_taken() const;
  int64_t packed_layers() const { return packed_layers_; }

 private:
  const SafetensorsEntry& take(const std::string& name);
  bool has(const std::string& name) const { return entries_.count(name) != 0; }

  std::shared_ptr<const std::vector<uint8_t>> bytes_;  // shared with the 2-bit matrices that use it in place
  std::string source_;
  SafetensorsHeader header_;
  std::map<std::string, const SafetensorsEntry*> entries_;
  std::set<std::string> taken_;
  int64_t packed_layers_ = 0;
};

}  // namespace tervit::runtime
