#pragma once
// The safetensors container without LibTorch: the header parsed and validated into tensor entries (dtype,
// shape, byte range), so that both the LibTorch reader (safetensors.h) and the LibTorch-free runtime read
// files by the same rules. Nothing is read outside the given bytes, whatever they hold.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tervit {

enum class SafetensorsDtype { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

struct SafetensorsDtypeInfo {
  const char* name;  // as the header spells it: "F32", "U8", ...
  SafetensorsDtype dtype;
  size_t size;    // bytes per element
  bool floating;
};
const SafetensorsDtypeInfo& dtype_info(SafetensorsDtype dtype);

struct SafetensorsEntry {
  std::string name;
  SafetensorsDtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;  // byte range in the data buffer, checked against it and against dtype x shape
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;        // sorted by byte range; no two overlap
  std::map<std::string, std::string> metadata;  // the header's "__metadata__"
  const uint8_t* data = nullptr;                // the data buffer: entries' ranges are relative to it
};

// "[2, 3]": a shape as errors print it (as LibTorch prints sizes).
std::string shape_text(const std::vector<int64_t>& shape);

// Parses the header of an in-memory file; throws tervit::Error naming `source` on any problem.
SafetensorsHeader parse_safetensors_header(const uint8_t* bytes, size_t size, const std::string& source);

}  // namespace tervit
