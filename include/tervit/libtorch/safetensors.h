#pragma once
// Reading and writing the safetensors format (https://github.com/huggingface/safetensors): a u64
// little-endian header length, a JSON header naming every tensor's dtype, shape and byte range, then
// the raw little-endian data. It is the checkpoint format of tervit and of the timm weights it imports.
#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace tervit {

using TensorMap = std::map<std::string, torch::Tensor>;

struct SafetensorsData {
  TensorMap tensors;
  std::map<std::string, std::string> metadata;  // the header's "__metadata__"
};

// Reads and validates a whole file; throws tervit::Error naming `path` on any problem.
SafetensorsData read_safetensors(const std::filesystem::path& path);

// Parses an in-memory file, never reading outside [bytes, bytes + size) whatever the bytes. `source`
// names the data in errors. The returned tensors own their memory (CPU, contiguous).
SafetensorsData parse_safetensors(const uint8_t* bytes, size_t size, const std::string& source);

// Writes `tensors` (in name order) atomically: a temporary file in the same folder is written, fsynced
// and renamed over `path`, so a failure leaves any previous file intact. `store_as`, when set, must be
// a floating dtype and converts every floating tensor to it (integer and bool tensors are kept).
void write_safetensors(const std::filesystem::path& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {},
                       std::optional<torch::ScalarType> store_as = std::nullopt);

}  // namespace tervit
