#include "tervit/core/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <tuple>
#include <vector>

#include "tervit/core/atomic_file.h"
#include "tervit/core/error.h"

namespace tervit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Tensor bytes are copied as they are, so the host must share the file's byte order.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian");

struct Dtype {
  const char* name;
  torch::ScalarType type;
  size_t size;
  bool floating;  // converted by write_safetensors' store_as
};

constexpr std::array<Dtype, 10> kDtypes{{
    {"F64", torch::kFloat64, 8, true},
    {"F32", torch::kFloat32, 4, true},
    {"F16", torch::kFloat16, 2, true},
    {"BF16", torch::kBFloat16, 2, true},
    {"I64", torch::kInt64, 8, false},
    {"I32", torch::kInt32, 4, false},
    {"I16", torch::kInt16, 2, false},
    {"I8", torch::kInt8, 1, false},
    {"U8", torch::kUInt8, 1, false},
    {"BOOL", torch::kBool, 1, false},
}};

// The reference implementation refuses headers over 100 MB; so do we, before allocating anything.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

const Dtype* find_dtype(const std::string& name) {
  for (const Dtype& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const Dtype* find_dtype(torch::ScalarType type) {
  for (const Dtype& d : kDtypes) {
    if (type == d.type) return &d;
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

// `what` is a plain string so that nothing allocates (and maybe sets errno) before `err` is read.
[[noreturn]] void fail_io(const fs::path& path, const char* what, int err) {
  throw Error(path.string() + ": " + what + ": " + std::strerror(err));
}

// ---- reading ----

struct Entry {
  std::string name;
  const Dtype* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

class EntryParser {
 public:
  EntryParser(const std::string& source, uint64_t data_size) : source_(source), data_size_(data_size) {}

  Entry parse(const std::string& name, const json& value) const {
    if (name.empty()) fail(name, "has an empty name");
    if (!value.is_object()) fail(name, "is described by " + describe(value) + ", not by an object");
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      if (!value.contains(field)) fail(name, std::string("lacks \"") + field + "\"");
    }
    Entry entry{name, parse_dtype(name, value["dtype"]), {}, 0, 0};
    const uint64_t numel = parse_shape(name, value["shape"], entry.shape);
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, entry.dtype->size, &nbytes)) fail(name, "is too large: its byte size overflows");
    parse_offsets(name, value["data_offsets"], nbytes, entry);
    return entry;
  }

 private:
  [[noreturn]] void fail(const std::string& name, const std::string& what) const {
    throw Error(source_ + ": tensor '" + name + "' " + what);
  }

  const Dtype* parse_dtype(const std::string& name, const json& dtype) const {
    if (!dtype.is_string()) fail(name, "has dtype " + describe(dtype) + ", which is not a string");
    const Dtype* found = find_dtype(dtype.get<std::string>());
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

  void parse_offsets(const std::string& name, const json& offsets, uint64_t nbytes, Entry& entry) const {
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

void check_no_overlap(std::vector<Entry>& entries, const std::string& source) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  // Sorted by begin, any overlap shows between neighbours.
  for (size_t i = 1; i < entries.size(); ++i) {
    const Entry& a = entries[i - 1];
    const Entry& b = entries[i];
    if (b.begin < a.end)
      throw Error(source + ": tensors '" + a.name + "' and '" + b.name + "' overlap in the data buffer");
  }
}

torch::Tensor make_tensor(const Entry& entry, const uint8_t* data, const std::string& source) {
  const uint8_t* begin = data + entry.begin;
  const uint8_t* end = data + entry.end;
  // LibTorch assumes a bool is 0 or 1; any other byte would be undefined behaviour later.
  if (entry.dtype->type == torch::kBool && std::any_of(begin, end, [](uint8_t b) { return b > 1; })) {
    throw Error(source + ": tensor '" + entry.name + "' has dtype BOOL but holds bytes other than 0 and 1");
  }
  torch::Tensor tensor = torch::empty(entry.shape, torch::TensorOptions().dtype(entry.dtype->type));
  if (end != begin) std::memcpy(tensor.data_ptr(), begin, static_cast<size_t>(end - begin));
  return tensor;
}

// Closes a descriptor on every way out of a scope.
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

std::vector<uint8_t> read_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_io(path, "cannot open", errno);
  const FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail_io(path, "cannot stat", errno);
  if (!S_ISREG(st.st_mode)) throw Error(path.string() + ": not a regular file");
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_io(path, "cannot read", errno);
    if (n == 0) break;  // the file shrank while we read: parse what there is
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace

SafetensorsData parse_safetensors(const uint8_t* bytes, size_t size, const std::string& source) {
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

  const uint8_t* data = bytes + 8 + header_size;
  const EntryParser entry_parser(source, size - 8 - header_size);
  SafetensorsData result;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      result.metadata = parse_metadata(value, source);
    } else {
      entries.push_back(entry_parser.parse(key, value));
    }
  }
  check_no_overlap(entries, source);
  for (const Entry& entry : entries) result.tensors.emplace(entry.name, make_tensor(entry, data, source));
  return result;
}

SafetensorsData read_safetensors(const fs::path& path) {
  const std::vector<uint8_t> bytes = read_file(path);
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
    const Dtype* dtype = find_dtype(tensor.scalar_type());
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
