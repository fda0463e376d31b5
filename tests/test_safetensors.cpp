#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>

#include "tervit/core/error.h"
#include "tervit/libtorch/safetensors.h"
#include "test_helpers.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using tervit::TensorMap;

using tervit::testing::read_bytes;
using tervit::testing::TempDir;
using tervit::testing::write_bytes;

namespace {

// A file made of a u64 length, the header text as given and the data bytes.
std::vector<uint8_t> make_file(const std::string& header, const std::vector<uint8_t>& data, uint64_t length) {
  std::vector<uint8_t> bytes(8 + header.size() + data.size());
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(length >> (8 * i));
  const auto data_start = std::copy(header.begin(), header.end(), bytes.begin() + 8);
  std::copy(data.begin(), data.end(), data_start);
  return bytes;
}
std::vector<uint8_t> make_file(const std::string& header, const std::vector<uint8_t>& data) {
  return make_file(header, data, header.size());
}

tervit::SafetensorsData parse(const std::vector<uint8_t>& bytes, const std::string& source = "bad.safetensors") {
  return tervit::parse_safetensors(bytes.data(), bytes.size(), source);
}

TensorMap every_dtype() {
  torch::manual_seed(0);
  const auto i64 = torch::kInt64;
  return {
      {"f64", torch::randn({3, 4}, torch::kFloat64)},
      {"f32", torch::randn({2, 3, 4})},
      {"f16", torch::randn({5}).to(torch::kHalf)},
      {"bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
      {"i64",
       torch::tensor(
           {std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{0}, std::numeric_limits<int64_t>::max()}, i64)},
      {"i32", torch::randint(-100000, 100000, {7}, torch::kInt32)},
      {"i16", torch::randint(-30000, 30000, {2, 3}, torch::kInt16)},
      {"i8", torch::arange(-128, 128, torch::kInt8).reshape({16, 16})},
      {"u8", torch::arange(0, 256, torch::kInt32).to(torch::kUInt8)},
      {"bool", torch::tensor({true, false, false, true, true})},
      {"scalar", torch::tensor(3.5)},
      {"empty_f32", torch::empty({0, 3})},
      {"empty_i32", torch::zeros({2, 0, 4}, torch::kInt32)},
      {"transposed", torch::randn({4, 6}).t()},
      {"strided", torch::arange(20, i64).slice(0, 0, 20, 3)},
  };
}

void require_same(const TensorMap& got, const TensorMap& expected) {
  REQUIRE(got.size() == expected.size());
  for (const auto& [name, tensor] : expected) {
    INFO(name);
    REQUIRE(got.count(name) == 1);
    const torch::Tensor& read = got.at(name);
    CHECK(read.scalar_type() == tensor.scalar_type());
    CHECK(read.sizes() == tensor.sizes());
    CHECK(read.is_contiguous());
    CHECK(torch::equal(read, tensor));
  }
}

nlohmann::json header_of(const std::vector<uint8_t>& bytes) {
  uint64_t length = 0;
  std::memcpy(&length, bytes.data(), 8);
  return nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(length));
}

}  // namespace

TEST_CASE("safetensors round trip keeps every dtype, shape, value and the metadata", "[safetensors]") {
  TempDir dir;
  const fs::path path = dir / "all.safetensors";
  const TensorMap tensors = every_dtype();
  const std::map<std::string, std::string> metadata{{"family", "deit"}, {"note", "h\xc3\xa9llo, \"quoted\""}};
  tervit::write_safetensors(path, tensors, metadata);

  const tervit::SafetensorsData data = tervit::read_safetensors(path);
  require_same(data.tensors, tensors);
  CHECK(data.metadata == metadata);
  CHECK(data.tensors.at("scalar").dim() == 0);
  CHECK(data.tensors.at("scalar").item<double>() == 3.5);
  CHECK(data.tensors.at("strided").equal(torch::tensor({0, 3, 6, 9, 12, 15, 18}, torch::kInt64)));

  // Layout as the spec has it: padded header, data in name order, back to back from offset 0.
  const std::vector<uint8_t> bytes = read_bytes(path);
  uint64_t length = 0;
  std::memcpy(&length, bytes.data(), 8);
  CHECK(length % 8 == 0);
  const nlohmann::json header = header_of(bytes);
  CHECK(header.at("i8").at("dtype") == "I8");
  CHECK(header.at("bf16").at("dtype") == "BF16");
  CHECK(header.at("scalar").at("shape") == nlohmann::json::array());
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    INFO(name);
    CHECK(header.at(name).at("data_offsets") == nlohmann::json::array({offset, offset + tensor.nbytes()}));
    offset += tensor.nbytes();
  }
  CHECK(bytes.size() == 8 + length + offset);
  CHECK(dir.entries() == std::vector<std::string>{"all.safetensors"});
}

TEST_CASE("safetensors store_as converts floating tensors only", "[safetensors]") {
  TempDir dir;
  const fs::path path = dir / "half.safetensors";
  torch::manual_seed(1);
  const TensorMap tensors{{"w", torch::randn({8, 3})},
                          {"d", torch::randn({4}, torch::kFloat64)},
                          {"b", torch::randn({3}).to(torch::kBFloat16)},
                          {"n", torch::tensor({int64_t{5}, int64_t{-7}})}};
  tervit::write_safetensors(path, tensors, {}, torch::kHalf);
  const tervit::SafetensorsData data = tervit::read_safetensors(path);
  for (const char* name : {"w", "d", "b"}) {
    INFO(name);
    CHECK(data.tensors.at(name).scalar_type() == torch::kHalf);
    CHECK(torch::equal(data.tensors.at(name), tensors.at(name).to(torch::kHalf)));
  }
  CHECK(data.tensors.at("n").scalar_type() == torch::kInt64);
  CHECK(torch::equal(data.tensors.at("n"), tensors.at("n")));
  CHECK(data.metadata.empty());

  REQUIRE_THROWS_AS(tervit::write_safetensors(path, tensors, {}, torch::kInt32), tervit::Error);
  CHECK_THROWS_WITH(tervit::write_safetensors(path, tensors, {}, torch::kInt32), Contains(path.string()));
}

TEST_CASE("safetensors reads the timm fixtures", "[safetensors]") {
  const auto total = [](const TensorMap& tensors) {
    int64_t n = 0;
    for (const auto& item : tensors) n += item.second.numel();
    return n;
  };
  const auto deit = tervit::read_safetensors(tervit::testing::timm_fixture("deit_mini.safetensors"));
  CHECK(deit.tensors.size() == 32);
  CHECK(deit.metadata.at("family") == "deit");
  CHECK(total(deit.tensors) == 94906);
  CHECK(deit.tensors.at("pos_embed").sizes() == std::vector<int64_t>{1, 17, 48});
  CHECK(deit.tensors.at("cls_token").sizes() == std::vector<int64_t>{1, 1, 48});
  CHECK(deit.tensors.at("cls_token").scalar_type() == torch::kFloat32);
  // First values as Python's struct module reads them from the file.
  CHECK(deit.tensors.at("cls_token").flatten()[0].item<float>() == Approx(-0.1061118021607399));
  CHECK(deit.tensors.at("pos_embed").flatten()[1].item<float>() == Approx(-0.10666334629058838));

  const auto swin = tervit::read_safetensors(tervit::testing::timm_fixture("swin_mini.safetensors"));
  CHECK(swin.tensors.size() == 92);
  CHECK(swin.metadata.at("family") == "swin");
  CHECK(total(swin.tensors) == 323040);
  CHECK(swin.tensors.at("patch_embed.proj.bias").flatten()[0].item<float>() == Approx(0.09711774438619614));
}

TEST_CASE("safetensors rejects every kind of malformed file with a specific error", "[safetensors]") {
  const std::vector<uint8_t> data(40, 0);  // a: F32 [2, 2] in [0, 16); b: I64 [3] in [16, 40)
  const std::string a = R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})";
  const std::string b = R"("b":{"dtype":"I64","shape":[3],"data_offsets":[16,40]})";
  const std::string meta = R"("__metadata__":{"k":"v"})";
  const auto with_a = [&](const std::string& entry_a) { return "{" + entry_a + "," + b + "," + meta + "}"; };

  const auto valid = parse(make_file(with_a(a), data));
  REQUIRE(valid.tensors.size() == 2);
  CHECK(valid.tensors.at("b").sizes() == std::vector<int64_t>{3});
  CHECK(valid.metadata.at("k") == "v");

  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
    const char* message;
  };
  const std::string deep(100000, '[');
  const std::vector<Case> cases{
      {"shorter than 8 bytes", {1, 0, 0, 0, 0}, "shorter than the 8-byte"},
      {"header length past the file", make_file(with_a(a), data, 1000), "larger than the"},
      {"header length absurd", make_file(with_a(a), data, uint64_t{1} << 63), "absurdly large"},
      {"header not JSON", make_file(R"({"a":{"dtype")", data), "not valid JSON"},
      {"header not UTF-8", make_file("{\"\xff\":1}", data), "not valid JSON"},
      {"header deeply nested", make_file(deep, data), "not valid JSON"},
      {"header not an object", make_file("[1,2]", data), "header is a JSON array, not an object"},
      {"metadata deeply nested",
       make_file("{" + a + "," + b + R"(,"__metadata__":{"k":)" + deep + std::string(deep.size(), ']') + "}}", data),
       "__metadata__ value of 'k' is a 1-element array, not a string"},
      {"entry not an object", make_file(with_a(R"("a":[1])"), data),
       "tensor 'a' is described by a 1-element array, not by an object"},
      {"entry lacks dtype", make_file(with_a(R"("a":{"shape":[2,2],"data_offsets":[0,16]})"), data),
       "tensor 'a' lacks \"dtype\""},
      {"entry lacks shape", make_file(with_a(R"("a":{"dtype":"F32","data_offsets":[0,16]})"), data),
       "tensor 'a' lacks \"shape\""},
      {"entry lacks data_offsets", make_file(with_a(R"("a":{"dtype":"F32","shape":[2,2]})"), data),
       "tensor 'a' lacks \"data_offsets\""},
      {"unknown dtype", make_file(with_a(R"("a":{"dtype":"F8","shape":[2,2],"data_offsets":[0,16]})"), data),
       "unknown dtype \"F8\""},
      {"dtype not a string", make_file(with_a(R"("a":{"dtype":4,"shape":[2,2],"data_offsets":[0,16]})"), data),
       "not a string"},
      {"shape not an array", make_file(with_a(R"("a":{"dtype":"F32","shape":4,"data_offsets":[0,16]})"), data),
       "has shape 4, not an array"},
      {"shape negative", make_file(with_a(R"("a":{"dtype":"F32","shape":[-2,-2],"data_offsets":[0,16]})"), data),
       "shape dimension -2; a shape is an array of non-negative integers"},
      {"shape fractional", make_file(with_a(R"("a":{"dtype":"F32","shape":[2.0,2],"data_offsets":[0,16]})"), data),
       "shape dimension 2.0;"},
      {"element count overflow",
       make_file(with_a(R"("a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,16]})"), data),
       "element count overflows"},
      {"overflow hidden by a zero dim",
       make_file(with_a(R"("a":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]})"), data),
       "element count overflows"},
      {"byte size overflow",
       make_file(with_a(R"("a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,16]})"), data),
       "byte size overflows"},
      {"data_offsets one number", make_file(with_a(R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0]})"), data),
       "not two non-negative integers"},
      {"data_offsets three numbers",
       make_file(with_a(R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16,16]})"), data),
       "not two non-negative integers"},
      {"data_offsets strings", make_file(with_a(R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":["0",16]})"), data),
       "not two non-negative integers"},
      {"data_offsets negative", make_file(with_a(R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[-16,0]})"), data),
       "not two non-negative integers"},
      {"data_offsets reversed", make_file(with_a(R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[16,0]})"), data),
       "begin is past its end"},
      {"data_offsets past the buffer",
       make_file(with_a(R"("a":{"dtype":"F32","shape":[2,4],"data_offsets":[16,48]})"), data),
       "past the end of the 40-byte data buffer"},
      {"byte size differs", make_file(with_a(R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]})"), data),
       "spanning 16 bytes, but its dtype and shape need 24"},
      {"tensors overlap", make_file(with_a(R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]})"), data),
       "'a' and 'b' overlap"},
      {"empty name", make_file(with_a(R"("":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})"), data),
       "empty name"},
      {"metadata not an object", make_file("{" + a + "," + b + R"(,"__metadata__":["k"]})", data),
       "__metadata__ is a 1-element array, not an object"},
      {"metadata value not a string", make_file("{" + a + "," + b + R"(,"__metadata__":{"k":1}})", data),
       "__metadata__ value of 'k' is 1, not a string"},
      {"bool byte not 0 or 1", make_file(R"({"a":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", {0, 7}),
       "holds bytes other than 0 and 1"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    REQUIRE_THROWS_AS(parse(c.bytes), tervit::Error);
    CHECK_THROWS_WITH(parse(c.bytes), Contains("bad.safetensors: ") && Contains(c.message));
  }
}

TEST_CASE("safetensors rejects every truncation of a valid file", "[safetensors]") {
  TempDir dir;
  const fs::path path = dir / "whole.safetensors";
  tervit::write_safetensors(path, every_dtype(), {{"family", "test"}});
  const std::vector<uint8_t> bytes = read_bytes(path);
  const uint64_t header_end = 8 + header_of(bytes).dump().size();  // at most the padded header end
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 100; ++n) lengths.push_back(n);
  for (size_t n : {header_end - 1, header_end + 7, header_end + 8, header_end + 9, header_end + 100, bytes.size() - 8,
                   bytes.size() - 1}) {
    lengths.push_back(n);
  }
  REQUIRE(header_end + 100 < bytes.size());

  const fs::path cut = dir / "cut.safetensors";
  for (size_t n : lengths) {
    INFO("truncated to " << n << " of " << bytes.size() << " bytes");
    CHECK_THROWS_WITH(tervit::parse_safetensors(bytes.data(), n, "cut"), Contains("cut: "));
    write_bytes(cut, bytes, n);
    CHECK_THROWS_WITH(tervit::read_safetensors(cut), Contains(cut.string() + ": "));
    REQUIRE_THROWS_AS(tervit::read_safetensors(cut), tervit::Error);
  }
}

TEST_CASE("safetensors survives random corruption of its header", "[safetensors]") {
  TempDir dir;
  const fs::path path = dir / "fuzz.safetensors";
  tervit::write_safetensors(path, every_dtype(), {{"family", "test"}});
  const std::vector<uint8_t> bytes = read_bytes(path);
  const size_t header_end = 8 + header_of(bytes).dump().size();
  std::mt19937 rng(42);
  std::uniform_int_distribution<size_t> position(0, header_end - 1);
  std::uniform_int_distribution<int> value(0, 255);
  int rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> mutated = bytes;
    for (int k = 0; k < 1 + trial % 3; ++k) mutated[position(rng)] = static_cast<uint8_t>(value(rng));
    try {
      const auto data = parse(mutated, "fuzz");
      for (const auto& item : data.tensors) CHECK(item.second.is_contiguous());  // tensors are usable
    } catch (const tervit::Error& e) {
      ++rejected;
      REQUIRE_THAT(e.what(), Contains("fuzz: "));
    }
  }
  CHECK(rejected > 1000);
}

TEST_CASE("safetensors names the path when a file cannot be read", "[safetensors]") {
  TempDir dir;
  const fs::path missing = dir / "missing.safetensors";
  REQUIRE_THROWS_AS(tervit::read_safetensors(missing), tervit::Error);
  CHECK_THROWS_WITH(tervit::read_safetensors(missing), Contains(missing.string()) && Contains("cannot open"));
  REQUIRE_THROWS_AS(tervit::read_safetensors(dir.path()), tervit::Error);
  CHECK_THROWS_WITH(tervit::read_safetensors(dir.path()), Contains(dir.path().string()) && Contains("not a regular file"));
}

TEST_CASE("safetensors writes atomically and cleans up after a failure", "[safetensors]") {
  TempDir dir;
  const fs::path path = dir / "model.safetensors";
  const TensorMap old_tensors{{"w", torch::arange(6, torch::kFloat32)}};

  SECTION("overwriting an existing file replaces it") {
    tervit::write_safetensors(path, old_tensors);
    const TensorMap new_tensors{{"v", torch::ones({2, 2}, torch::kInt16)}};
    tervit::write_safetensors(path, new_tensors, {{"step", "2"}});
    const auto data = tervit::read_safetensors(path);
    require_same(data.tensors, new_tensors);
    CHECK(data.metadata.at("step") == "2");
    CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
  }

  SECTION("a folder that does not exist") {
    const fs::path nowhere = dir / "no" / "such" / "model.safetensors";
    REQUIRE_THROWS_AS(tervit::write_safetensors(nowhere, old_tensors), tervit::Error);
    CHECK_THROWS_WITH(tervit::write_safetensors(nowhere, old_tensors), Contains(nowhere.string()));
    CHECK(dir.entries().empty());
  }

  SECTION("a location that cannot be written") {
    const fs::path proc = "/proc/tervit_test.safetensors";
    REQUIRE_THROWS_AS(tervit::write_safetensors(proc, old_tensors), tervit::Error);
    CHECK_THROWS_WITH(tervit::write_safetensors(proc, old_tensors), Contains(proc.string()));
    if (::geteuid() != 0) {  // root ignores folder permissions
      fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
      REQUIRE_THROWS_AS(tervit::write_safetensors(path, old_tensors), tervit::Error);
      fs::permissions(dir.path(), fs::perms::owner_all);
      CHECK(dir.entries().empty());
    }
  }

  SECTION("a write that runs out of space keeps the old file") {
    tervit::write_safetensors(path, old_tensors);
    // RLIMIT_FSIZE makes write() fail with EFBIG past 64 KiB, as a full disk would fail it.
    struct rlimit saved {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    const auto saved_handler = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = saved;
    small.rlim_cur = 64 * 1024;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string message;
    try {
      tervit::write_safetensors(path, {{"big", torch::zeros({1 << 20})}});
    } catch (const tervit::Error& e) {
      message = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &saved);
    ::signal(SIGXFSZ, saved_handler);
    CHECK_THAT(message, Contains(path.string()) && Contains("write failed"));
    require_same(tervit::read_safetensors(path).tensors, old_tensors);
    CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
  }

  SECTION("a rename that fails removes the temporary file") {
    fs::create_directories(path / "occupied");  // rename cannot replace a non-empty folder
    REQUIRE_THROWS_AS(tervit::write_safetensors(path, old_tensors), tervit::Error);
    CHECK_THROWS_WITH(tervit::write_safetensors(path, old_tensors), Contains(path.string()) && Contains("rename"));
    CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
    CHECK(fs::is_directory(path / "occupied"));
  }

  SECTION("tensors and metadata that a file cannot hold") {
    const auto fails_with = [&](const TensorMap& tensors, const std::map<std::string, std::string>& metadata,
                                const std::string& what) {
      INFO(what);
      REQUIRE_THROWS_AS(tervit::write_safetensors(path, tensors, metadata), tervit::Error);
      CHECK_THROWS_WITH(tervit::write_safetensors(path, tensors, metadata), Contains(path.string()) && Contains(what));
    };
    fails_with({{"", torch::ones({1})}}, {}, "invalid tensor name");
    fails_with({{"__metadata__", torch::ones({1})}}, {}, "invalid tensor name");
    fails_with({{"u", torch::Tensor()}}, {}, "'u' is undefined");
    fails_with({{"c", torch::ones({2}, torch::kComplexFloat)}}, {}, "'c' has dtype");
    fails_with(old_tensors, {{"k", "\xff\xfe"}}, "cannot encode the header");
    CHECK(dir.entries().empty());
  }
}
