// Packed ternary blocks: exact round trips for both formats, the bit layout, rejection of bytes that are
// no trits, and 2-bit matrices read in place.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "tervit/kernels/packed_blocks.h"
#include "tervit/kernels/packed_matrix.h"

using namespace tervit::kernels;

namespace {

std::vector<int8_t> random_trits(int64_t count, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> trit(-1, 1);
  std::vector<int8_t> trits(static_cast<size_t>(count));
  for (auto& t : trits) t = static_cast<int8_t>(trit(random));
  return trits;
}

template <typename Block, typename Pack, typename Unpack>
void check_round_trip(const std::vector<int8_t>& trits, Pack pack, Unpack unpack) {
  const auto count = static_cast<int64_t>(trits.size());
  std::vector<Block> blocks(static_cast<size_t>(block_count<Block>(count)));
  pack(trits.data(), count, blocks.data());
  std::vector<int8_t> unpacked(trits.size(), 42);
  CHECK(unpack(blocks.data(), count, unpacked.data()));
  CHECK(unpacked == trits);
}

}  // namespace

TEST_CASE("Packed blocks round-trip random and edge-case trits exactly", "[deploy]") {
  const auto count = GENERATE(as<int64_t>{}, 0, 1, 5, 31, 127, 128, 129, 159, 160, 161, 1000);
  CAPTURE(count);
  for (const auto& trits : {random_trits(count, 7), std::vector<int8_t>(count, 0), std::vector<int8_t>(count, 1),
                            std::vector<int8_t>(count, -1)}) {
    check_round_trip<Block2Bit>(trits, pack_2bit, unpack_2bit);
    check_round_trip<Block1_6Bit>(trits, pack_1_6bit, unpack_1_6bit);
  }
}

TEST_CASE("Packed blocks have the documented bit layout", "[deploy]") {
  std::vector<int8_t> trits(130, 0);
  trits[33] = 1;    // block 0, byte 1, field 1
  trits[96] = -1;   // block 0, byte 0, field 3
  trits[129] = 1;   // 2-bit: block 1, byte 1, field 0; 1.6-bit: block 0, byte 1, digit 4
  Block2Bit two[2];
  pack_2bit(trits.data(), 130, two);
  CHECK(int(two[0].codes[0]) == 0x15);  // codes 1, 1, 1, 0 from the low bits up
  CHECK(int(two[0].codes[1]) == 0x59);  // codes 1, 2, 1, 1
  CHECK(int(two[0].codes[2]) == 0x55);
  CHECK(int(two[1].codes[1]) == 0x56);  // codes 2, 1, 1, 1
  CHECK(int(two[1].codes[2]) == 0x55);  // padding: trit 0
  Block1_6Bit five[1];
  pack_1_6bit(trits.data(), 130, five);
  CHECK(int(five[0].codes[0]) == 121 - 27);       // all codes 1 (1+3+9+27+81) but digit 3 is 0
  CHECK(int(five[0].codes[1]) == 121 + 3 + 81);   // digits 1 and 4 are 2
  CHECK(int(five[0].codes[2]) == 121);
}

TEST_CASE("Unpacking reports bytes that are no trits and nonzero padding", "[deploy]") {
  std::vector<int8_t> trits(10, 0), out(10);
  Block2Bit two[1];
  pack_2bit(trits.data(), 10, two);
  two[0].codes[3] = 0x57;  // the low field of byte 3 (trit 3) becomes code 3
  CHECK_FALSE(unpack_2bit(two, 10, out.data()));
  pack_2bit(trits.data(), 10, two);
  two[0].codes[20] = 0x56;  // trit 20 is padding and now +1
  CHECK_FALSE(unpack_2bit(two, 10, out.data()));
  CHECK(unpack_2bit(two, 21, std::vector<int8_t>(21).data()));

  Block1_6Bit five[1];
  pack_1_6bit(trits.data(), 10, five);
  five[0].codes[0] = 243;
  CHECK_FALSE(unpack_1_6bit(five, 10, out.data()));
  pack_1_6bit(trits.data(), 10, five);
  five[0].codes[11] = 122;  // trit 11 is padding and now +1
  CHECK_FALSE(unpack_1_6bit(five, 10, out.data()));
}

TEST_CASE("A 2-bit matrix read with its bytes' owner uses them in place and keeps them alive", "[deploy]") {
  const int64_t rows = 5, cols = 130;
  const auto trits = random_trits(rows * cols, 9);
  const auto packed = pack_matrix(trits.data(), rows, cols);
  const auto* begin = reinterpret_cast<const uint8_t*>(packed.blocks);
  auto bytes = std::make_shared<std::vector<uint8_t>>(begin, begin + packed.total_blocks() * sizeof(Block2Bit));
  const auto shape = packed_shape(rows, cols, PackedBits::k2);
  const auto in_place = read_packed_matrix(shape, bytes->data(), PackedBits::k2, rows, cols, "t", bytes);
  const auto copied = read_packed_matrix(shape, bytes->data(), PackedBits::k2, rows, cols, "t");
  CHECK(reinterpret_cast<const uint8_t*>(in_place.blocks) == bytes->data());
  CHECK(reinterpret_cast<const uint8_t*>(copied.blocks) != bytes->data());
  bytes.reset();  // the in-place matrix keeps them (a sanitizer build would catch a use after free below)
  for (const auto* matrix : {&in_place, &copied}) {
    std::vector<int8_t> row(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      REQUIRE(unpack_2bit(matrix->row(r), cols, row.data()));
      CHECK(std::equal(row.begin(), row.end(), trits.begin() + r * cols));
    }
  }
}
