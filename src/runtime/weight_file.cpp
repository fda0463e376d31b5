#include "tervit/runtime/weight_file.h"

#include <cstring>
#include <numeric>
#include <utility>

#include "tervit/core/error.h"
#include "tervit/core/file_bytes.h"
#include "tervit/kernels/packed_metadata.h"

namespace tervit::runtime {

namespace {

// IEEE half and bfloat16 bits to float.
float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff, bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf, nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    exponent = 113;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ff) << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

std::vector<float> to_floats(const SafetensorsEntry& entry, const uint8_t* data) {
  const uint8_t* bytes = data + entry.begin;
  const size_t count = (entry.end - entry.begin) / dtype_info(entry.dtype).size;
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) {
    switch (entry.dtype) {
      case SafetensorsDtype::kF32: std::memcpy(&values[i], bytes + 4 * i, 4); break;
      case SafetensorsDtype::kF64: {
        double v;
        std::memcpy(&v, bytes + 8 * i, 8);
        values[i] = static_cast<float>(v);
        break;
      }
      default: {
        uint16_t v;
        std::memcpy(&v, bytes + 2 * i, 2);
        values[i] = entry.dtype == SafetensorsDtype::kF16 ? half_to_float(v) : bfloat16_to_float(v);
      }
    }
  }
  return values;
}

}  // namespace

WeightFile::WeightFile(std::vector<uint8_t> bytes, std::string source)
    : bytes_(std::make_shared<const std::vector<uint8_t>>(std::move(bytes))), source_(std::move(source)),
      header_(parse_safetensors_header(bytes_->data(), bytes_->size(), source_)) {
  for (const auto& entry : header_.entries) entries_[entry.name] = &entry;
}

WeightFile WeightFile::read(const std::filesystem::path& path) { return WeightFile(read_file_bytes(path), path.string()); }

const SafetensorsEntry& WeightFile::take(const std::string& name) {
  const auto found = entries_.find(name);
  if (found == entries_.end())
    throw Error(source_ + ": tensor '" + name + "' is missing (the tensors do not match the architecture in the metadata)");
  taken_.insert(name);
  return *found->second;
}

std::vector<float> WeightFile::take_floats(const std::string& name, const std::vector<int64_t>& shape) {
  const auto& entry = take(name);
  if (!dtype_info(entry.dtype).floating)
    throw Error(source_ + ": tensor '" + name + "' has dtype " + dtype_info(entry.dtype).name + ", not a float dtype");
  if (entry.shape != shape)
    throw Error(source_ + ": tensor '" + name + "' has shape " + shape_text(entry.shape) + ", but the architecture in the metadata needs " +
                shape_text(shape));
  return to_floats(entry, header_.data);
}

Linear WeightFile::take_linear(const std::string& prefix, const std::vector<int64_t>& weight_shape, bool bias,
                               kernels::PackedBits bits) {
  const int64_t rows = weight_shape.front();
  const int64_t cols = std::accumulate(weight_shape.begin() + 1, weight_shape.end(), int64_t{1}, std::multiplies<>());
  std::vector<float> bias_values;
  if (bias) bias_values = take_floats(prefix + ".bias", {rows});
  const std::string packed_name = prefix + kernels::kPackedWeightSuffix, alpha_name = prefix + kernels::kAlphaSuffix;
  if (!has(packed_name) && !has(alpha_name))
    return Linear::dense(rows, cols, take_floats(prefix + ".weight", weight_shape), std::move(bias_values));
  if (has(prefix + ".weight")) throw Error(source_ + ": layer '" + prefix + "' has both packed weights and a float weight");
  if (!has(alpha_name)) throw Error(source_ + ": layer '" + prefix + "' has packed weights but no α");
  const auto& packed = take(packed_name);
  const std::string where = source_ + ": tensor '" + packed_name + "'";
  if (packed.dtype != SafetensorsDtype::kU8)
    throw Error(where + " has dtype " + dtype_info(packed.dtype).name + ", packed weights are U8");
  // 2-bit blocks are used where they lie in the file's bytes: no second copy of the model while loading.
  auto matrix = kernels::read_packed_matrix(packed.shape, header_.data + packed.begin, bits, rows, cols, where, bytes_);
  const int64_t alpha_count = kernels::packed_alpha_count(metadata(), rows, source_);
  matrix.alpha = take_floats(alpha_name, {alpha_count});
  kernels::check_alpha_values(matrix.alpha, source_ + ": tensor '" + alpha_name + "'");
  if (alpha_count != rows) matrix.alpha.assign(static_cast<size_t>(rows), matrix.alpha.front());
  matrix.bias = std::move(bias_values);
  ++packed_layers_;
  return Linear::packed(std::move(matrix));
}

void WeightFile::check_all_taken() const {
  for (const auto& [name, entry] : entries_) {
    if (!taken_.count(name))
      throw Error(source_ + ": tensor '" + name + "' is not part of the architecture in the metadata");
  }
}

}  // namespace tervit::runtime
