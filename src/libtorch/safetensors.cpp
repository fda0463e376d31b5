#include "tervit/libtorch/safetensors.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>
#include <vector>

#include "tervit/core/atomic_file.h"
#include "tervit/core/error.h"
#include "tervit/core/file_bytes.h"
#include "tervit/core/safetensors_header.h"

namespace tervit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// LibTorch's dtype for each safetensors dtype.
constexpr std::array<std::pair<SafetensorsDtype, torch::ScalarType>, 10> kScalarTypes{{
    {SafetensorsDtype::kF64, torch::kFloat64},
    {SafetensorsDtype::kF32, torch::kFloat32},
    {SafetensorsDtype::kF16, torch::kFloat16},
    {SafetensorsDtype::kBF16, torch::kBFloat16},
    {SafetensorsDtype::kI64, torch::kInt64},
    {SafetensorsDtype::kI32, torch::kInt32},
    {SafetensorsDtype::kI16, torch::kInt16},
    {SafetensorsDtype::kI8, torch::kInt8},
    {SafetensorsDtype::kU8, torch::kUInt8},
    {SafetensorsDtype::kBool, torch::kBool},
}};

torch::ScalarType scalar_type(SafetensorsDtype dtype) {
  for (const auto& [file_dtype, type] : kScalarTypes) {
    if (file_dtype == dtype) return type;
  }
  throw std::logic_error("safetensors: a dtype without a LibTorch type");
}

// The file's dtype of a LibTorch type, or null when safetensors files here cannot hold it.
const SafetensorsDtypeInfo* find_dtype(torch::ScalarType type) {
  for (const auto& [file_dtype, scalar] : kScalarTypes) {
    if (scalar == type) return &dtype_info(file_dtype);
  }
  return nullptr;
}

torch::Tensor make_tensor(const SafetensorsEntry& entry, const uint8_t* data, const std::string& source) {
  const uint8_t* begin = data + entry.begin;
  const uint8_t* end = data + entry.end;
  // LibTorch assumes a bool is 0 or 1; any other byte would be undefined behaviour later.
  if (entry.dtype == SafetensorsDtype::kBool && std::any_of(begin, end, [](uint8_t b) { return b > 1; })) {
    throw Error(source + ": tensor '" + entry.name + "' has dtype BOOL but holds bytes other than 0 and 1");
  }
  torch::Tensor tensor = torch::empty(entry.shape, torch::TensorOptions().dtype(scalar_type(entry.dtype)));
  if (end != begin) std::memcpy(tensor.data_ptr(), begin, static_cast<size_t>(end - begin));
  return tensor;
}

}  // namespace

SafetensorsData parse_safetensors(const uint8_t* bytes, size_t size, const std::string& source) {
  const SafetensorsHeader header = parse_safetensors_header(bytes, size, source);
  SafetensorsData result;
  result.metadata = header.metadata;
  for (const auto& entry : header.entries) result.tensors.emplace(entry.name, make_tensor(entry, header.data, source));
  return result;
}

SafetensorsData read_safetensors(const fs::path& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return parse_safetensors(bytes.data(), bytes.size(), path.string());
}

void write_safetensors(const fs::path& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata, std::optional<torch::ScalarType> store_as) {
  const std::string where = path.string();
  if (store_as && !(find_dtype(*store_as) && find_dtype(*store_as)->floating)) {
    throw Error(where + ": store_as must be F64, F32, F16 or BF16, not " + std::string(c10::toString(*store_as)));
  }
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> payload;
  uint64_t offset = 0;
  for (const auto& [name, original] : tensors) {
    if (name.empty() || name == "__metadata__") throw Error(where + ": invalid tensor name '" + name + "'");
    if (!original.defined()) throw Error(where + ": tensor '" + name + "' is undefined");
    torch::Tensor tensor = original.detach();
    const SafetensorsDtypeInfo* dtype = find_dtype(tensor.scalar_type());
    if (dtype == nullptr) {
      throw Error(where + ": tensor '" + name + "' has dtype " + c10::toString(tensor.scalar_type()) +
                  ", which safetensors files here cannot hold");
    }
    if (store_as && dtype->floating) {
      tensor = tensor.to(*store_as);
      dtype = find_dtype(*store_as);
    }
    tensor = tensor.to(torch::kCPU).contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(tensor.numel()) * dtype->size;
    header[name] = {{"dtype", dtype->name},
                    {"shape", tensor.sizes().vec()},
                    {"data_offsets", json::array({offset, offset + nbytes})}};
    offset += nbytes;
    payload.push_back(tensor);
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // a name or metadata string that is not valid UTF-8
    throw Error(where + ": cannot encode the header: " + e.what());
  }
  // Pad with spaces so that the data buffer starts 8-byte aligned, as the reference writer does.
  text.append((8 - text.size() % 8) % 8, ' ');
  std::array<uint8_t, 8> length{};
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));

  std::vector<ByteChunk> chunks{{length.data(), length.size()}, {text.data(), text.size()}};
  for (const torch::Tensor& tensor : payload) {
    chunks.push_back({tensor.data_ptr(), static_cast<size_t>(tensor.numel()) * tensor.element_size()});
  }
  write_file_atomically(path, chunks);
}

}  // namespace tervit
