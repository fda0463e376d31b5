#include "tervit/core/safetensors_header.h"

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>
#include <string>
#include <nlohmann/json.hpp>
#include <tuple>

#include "tervit/core/error.h"

namespace tervit {
namespace {

using nlohmann::json;

// Tensor bytes are used as they are, so the host must share the file's byte order.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian");

constexpr std::array<SafetensorsDtypeInfo, 10> kDtypes{{
    {"F64", SafetensorsDtype::kF64, 8, true},
    {"F32", SafetensorsDtype::kF32, 4, true},
    {"F16", SafetensorsDtype::kF16, 2, true},
    {"BF16", SafetensorsDtype::kBF16, 2, true},
    {"I64", SafetensorsDtype::kI64, 8, false},
    {"I32", SafetensorsDtype::kI32, 4, false},
    {"I16", SafetensorsDtype::kI16, 2, false},
    {"I8", SafetensorsDtype::kI8, 1, false},
    {"U8", SafetensorsDtype::kU8, 1, false},
    {"BOOL", SafetensorsDtype::kBool, 1, false},
}};

// The reference implementation refuses headers over 100 MB; so do we, before allocating anything.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

const SafetensorsDtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

// A JSON value for an error message. Containers are only named, never serialised: a fuzzed header may
// nest them deep enough to overflow the recursive serialiser's stack; long strings are cut short.
std::string describe(const json& value) {
  if (value.is_array()) return "a " + std::to_string(value.size()) + "-element array";
  if (value.is_object()) return "an object";
  const std::string text = value.dump();
  return text.size() <= 60 ? text : text.substr(0, 57) + "...";
}

class EntryParser {
 public:
  EntryParser(const std::string& source, uint64_t data_size) : source_(source), data_size_(data_size) {}

  SafetensorsEntry parse(const std::string& name, const json& value) const {
    if (name.empty()) fail(name, "has an empty name");
    if (!value.is_object()) fail(name, "is described by " + describe(value) + ", not by an object");
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      if (!value.contains(field)) fail(name, std::string("lacks \"") + field + "\"");
    }
    const SafetensorsDtypeInfo* dtype = parse_dtype(name, value["dtype"]);
    SafetensorsEntry entry{name, dtype->dtype, {}, 0, 0};
    const uint64_t numel = parse_shape(name, value["shape"], entry.shape);
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, dtype->size, &nbytes)) fail(name, "is too large: its byte size overflows");
    parse_offsets(name, value["data_offsets"], nbytes, entry);
    return entry;
  }

 private:
  [[noreturn]] void fail(const std::string& name, const std::string& what) const {
    throw Error(source_ + ": tensor '" + name + "' " + what);
  }

  const SafetensorsDtypeInfo* parse_dtype(const std::string& name, const json& dtype) const {
    if (!dtype.is_string()) fail(name, "has dtype " + describe(dtype) + ", which is not a string");
    const SafetensorsDtypeInfo* found = find_dtype(dtype.get<std::string>());
    if (found == nullptr) fail(name, "has unknown dtype " + describe(dtype));
    return found;
  }

  // Fills `shape` and returns the element count. The product of the dimensions, counting zeros as
  // ones, must fit in int64, so that LibTorch's own size arithmetic cannot overflow either.
  uint64_t parse_shape(const std::string& name, const json& shape, std::vector<int64_t>& out) const {
    if (!shape.is_array()) fail(name, "has shape " + describe(shape) + ", not an array");
    uint64_t product = 1;
    bool empty = false;
    for (const json& dim : shape) {
      if (!dim.is_number_unsigned()) {
        fail(name, "has a shape dimension " + describe(dim) + "; a shape is an array of non-negative integers");
      }
      const uint64_t d = dim.get<uint64_t>();
      if (__builtin_mul_overflow(product, std::max<uint64_t>(d, 1), &product) ||
          product > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail(name, "has a shape whose element count overflows");
      }
      empty = empty || d == 0;
      out.push_back(static_cast<int64_t>(d));
    }
    return empty ? 0 : product;
  }

  void parse_offsets(const std::string& name, const json& offsets, uint64_t nbytes, SafetensorsEntry& entry) const {
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      fail(name, "has data_offsets " + describe(offsets) + ", not two non-negative integers");
    }
    entry.begin = offsets[0].get<uint64_t>();
    entry.end = offsets[1].get<uint64_t>();
    const std::string range = "[" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "]";
    if (entry.begin > entry.end) fail(name, "has data_offsets " + range + " whose begin is past its end");
    if (entry.end > data_size_) {
      fail(name,
           "has data_offsets " + range + " past the end of the " + std::to_string(data_size_) + "-byte data buffer");
    }
    if (entry.end - entry.begin != nbytes) {
      fail(name, "has data_offsets " + range + " spanning " + std::to_string(entry.end - entry.begin) +
                     " bytes, but its dtype and shape need " + std::to_string(nbytes));
    }
  }

  const std::string& source_;
  uint64_t data_size_;
};

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& source) {
  if (!value.is_object()) throw Error(source + ": __metadata__ is " + describe(value) + ", not an object");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string())
      throw Error(source + ": __metadata__ value of '" + key + "' is " + describe(item) + ", not a string");
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

void check_no_overlap(std::vector<SafetensorsEntry>& entries, const std::string& source) {
  std::sort(entries.begin(), entries.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  // Sorted by begin, any overlap shows between neighbours.
  for (size_t i = 1; i < entries.size(); ++i) {
    const SafetensorsEntry& a = entries[i - 1];
    const SafetensorsEntry& b = entries[i];
    if (b.begin < a.end)
      throw Error(source + ": tensors '" + a.name + "' and '" + b.name + "' overlap in the data buffer");
  }
}

}  // namespace

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

const SafetensorsDtypeInfo& dtype_info(SafetensorsDtype dtype) {
  for (const auto& d : kDtypes) {
    if (d.dtype == dtype) return d;
  }
  throw std::logic_error("dtype_info: a dtype missing from the table");
}

SafetensorsHeader parse_safetensors_header(const uint8_t* bytes, size_t size, const std::string& source) {
  if (size < 8) {
    throw Error(source + ": file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  }
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  if (header_size > kMaxHeaderBytes) {
    throw Error(source + ": header length " + std::to_string(header_size) + " is absurdly large (limit " +
                std::to_string(kMaxHeaderBytes) + " bytes)");
  }
  if (header_size > size - 8) {
    throw Error(source + ": header length " + std::to_string(header_size) + " is larger than the " +
                std::to_string(size - 8) + " bytes that follow it");
  }
  json header;
  try {
    header = json::parse(bytes + 8, bytes + 8 + header_size);
  } catch (const json::exception& e) {
    throw Error(source + ": header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) throw Error(source + ": header is a JSON " + header.type_name() + ", not an object");

  const EntryParser entry_parser(source, size - 8 - header_size);
  SafetensorsHeader result;
  result.data = bytes + 8 + header_size;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      result.metadata = parse_metadata(value, source);
    } else {
      result.entries.push_back(entry_parser.parse(key, value));
    }
  }
  check_no_overlap(result.entries, source);
  return result;
}

}  // namespace tervit
