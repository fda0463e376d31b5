#include "tervit/image/header_size.h"

#include <cctype>
#include <cstring>

namespace tervit::image {

namespace {

class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool has(size_t offset, size_t count) const { return offset <= size_ && count <= size_ - offset; }
  bool starts(size_t offset, const char* text) const {
    const size_t count = std::strlen(text);
    return has(offset, count) && std::memcmp(data_ + offset, text, count) == 0;
  }
  uint64_t little(size_t offset, size_t count) const {
    uint64_t value = 0;
    for (size_t i = count; i-- > 0;) value = (value << 8) | data_[offset + i];
    return value;
  }
  uint64_t big(size_t offset, size_t count) const {
    uint64_t value = 0;
    for (size_t i = 0; i < count; ++i) value = (value << 8) | data_[offset + i];
    return value;
  }
  uint8_t at(size_t offset) const { return data_[offset]; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_;
  size_t size_;
};

std::optional<HeaderSize> bmp(const Bytes& b) {
  if (!b.starts(0, "BM") || !b.has(14, 12)) return std::nullopt;
  if (b.little(14, 4) == 12) return HeaderSize{b.little(18, 2), b.little(20, 2), "BMP"};  // OS/2 core header
  if (!b.has(18, 8)) return std::nullopt;
  // Signed 32-bit sides; a negative height means rows stored top-down.
  const auto side = [&](size_t offset) {
    const auto value = static_cast<int32_t>(static_cast<uint32_t>(b.little(offset, 4)));
    return static_cast<uint64_t>(value < 0 ? -static_cast<int64_t>(value) : value);
  };
  return HeaderSize{side(18), side(22), "BMP"};
}

// "P1" to "P6", then width and height as ASCII decimals between whitespace and # comments.
std::optional<HeaderSize> pnm(const Bytes& b) {
  if (!b.has(0, 2) || b.at(0) != 'P' || b.at(1) < '1' || b.at(1) > '6') return std::nullopt;
  size_t position = 2;
  uint64_t sides[2] = {0, 0};
  for (auto& side : sides) {
    while (position < b.size() && (std::isspace(b.at(position)) || b.at(position) == '#')) {
      if (b.at(position) == '#')
        while (position < b.size() && b.at(position) != '\n') ++position;
      else
        ++position;
    }
    if (position >= b.size() || !std::isdigit(b.at(position))) return std::nullopt;
    for (; position < b.size() && std::isdigit(b.at(position)); ++position) {
      side = side * 10 + (b.at(position) - '0');
      if (side > (uint64_t{1} << 40)) return HeaderSize{side, 1, "PNM"};  // already beyond any budget
    }
  }
  return HeaderSize{sides[0], sides[1], "PNM"};
}

std::optional<HeaderSize> webp(const Bytes& b) {
  if (!b.starts(0, "RIFF") || !b.starts(8, "WEBP")) return std::nullopt;
  if (b.starts(12, "VP8 ") && b.has(26, 4)) return HeaderSize{b.little(26, 2) & 0x3fff, b.little(28, 2) & 0x3fff, "WebP"};
  if (b.starts(12, "VP8L") && b.has(21, 4)) {
    const uint64_t bits = b.little(21, 4);
    return HeaderSize{(bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1, "WebP"};
  }
  if (b.starts(12, "VP8X") && b.has(24, 6)) return HeaderSize{b.little(24, 3) + 1, b.little(27, 3) + 1, "WebP"};
  return std::nullopt;
}

// Classic TIFF: the first image file directory's ImageWidth (256) and ImageLength (257), SHORT or LONG.
std::optional<HeaderSize> tiff(const Bytes& b) {
  const bool little = b.starts(0, "II*");
  if (!little && !b.starts(0, "MM")) return std::nullopt;
  if (!b.has(0, 8)) return std::nullopt;
  const auto read = [&](size_t offset, size_t count) { return little ? b.little(offset, count) : b.big(offset, count); };
  if (read(2, 2) != 42) return std::nullopt;
  const uint64_t directory = read(4, 4);
  if (!b.has(directory, 2)) return std::nullopt;
  const uint64_t entries = read(directory, 2);
  HeaderSize found{0, 0, "TIFF"};
  for (uint64_t i = 0; i < entries; ++i) {
    const size_t entry = directory + 2 + 12 * i;
    if (!b.has(entry, 12)) break;
    const uint64_t tag = read(entry, 2), type = read(entry + 2, 2);
    if ((tag != 256 && tag != 257) || (type != 3 && type != 4)) continue;
    (tag == 256 ? found.width : found.height) = read(entry + 8, type == 3 ? 2 : 4);
  }
  if (found.width == 0 || found.height == 0) return std::nullopt;
  return found;
}

}  // namespace

std::optional<HeaderSize> header_size(const uint8_t* bytes, size_t size) {
  const Bytes b(bytes, size);
  for (const auto reader : {bmp, pnm, webp, tiff})
    if (auto found = reader(b)) return found;
  return std::nullopt;
}

}  // namespace tervit::image
