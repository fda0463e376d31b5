// Bad-file detection: the library's find_bad_files and `tervit-data check DIR`.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "test_helpers.h"
#include "tervit/data/check.h"
#include "tervit/data/image_folder.h"

namespace fs = std::filesystem;
using tervit::testing::TempDir;
using namespace tervit::data;

namespace {

const fs::path kImageFixtures = fs::path(__FILE__).parent_path() / "fixtures" / "images";

// Good files of the awkward kinds (CMYK JPEG, palette PNG, 16-bit PNG) and three broken ones.
void make_mixed_folder(const fs::path& root) {
  fs::create_directories(root / "good");
  fs::create_directories(root / "mixed");
  fs::copy_file(kImageFixtures / "cmyk.jpg", root / "good" / "cmyk.jpg");
  fs::copy_file(kImageFixtures / "palette.png", root / "good" / "palette.png");
  REQUIRE(cv::imwrite((root / "good" / "deep.png").string(), cv::Mat(8, 8, CV_16UC3, cv::Scalar(1000, 30000, 65535))));
  REQUIRE(cv::imwrite((root / "mixed" / "ok.jpg").string(), cv::Mat(16, 16, CV_8UC3, cv::Scalar(9, 99, 199))));
  std::vector<uint8_t> jpeg;
  REQUIRE(cv::imencode(".jpg", cv::Mat(64, 64, CV_8UC3, cv::Scalar(1, 2, 3)), jpeg));
  tervit::testing::write_bytes(root / "mixed" / "truncated.jpg", jpeg, jpeg.size() / 2);
  tervit::testing::write_bytes(root / "mixed" / "zero.png", {});
  std::ofstream(root / "mixed" / "text.jpg") << "<html>not an image</html>\n";
}

}  // namespace

TEST_CASE("find_bad_files lists exactly the broken files, in order", "[loader]") {
  TempDir dir;
  make_mixed_folder(dir / "data");
  const auto samples = scan_image_folder(dir / "data").samples;
  for (const int threads : {1, 3}) {
    const auto bad = find_bad_files(samples, threads);
    REQUIRE(bad.size() == 3);
    CHECK(bad[0].path.filename() == "text.jpg");
    CHECK(bad[1].path.filename() == "truncated.jpg");
    CHECK(bad[2].path.filename() == "zero.png");
    for (const auto& file : bad) CHECK_THAT(file.reason, Catch::Contains(file.path.string()));
  }
  CHECK(find_bad_files({}, 2).empty());
}

TEST_CASE("tervit-data check: bad files on stdout, exit 3; a clean folder exits 0", "[loader]") {
  TempDir dir;
  make_mixed_folder(dir / "data");
  const fs::path program = tervit::testing::binary_dir() / "tervit-data";
  const auto run = [&](const std::string& args) {
    const std::string command = program.string() + " check " + args + " >" + (dir / "out.txt").string() + " 2>" +
                                (dir / "err.txt").string();
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  CHECK(run((dir / "data").string() + " --threads 2") == 3);
  const std::string out = tervit::testing::read_text(dir / "out.txt");
  CHECK_THAT(out, Catch::Contains("truncated.jpg") && Catch::Contains("zero.png") && Catch::Contains("text.jpg"));
  CHECK_THAT(out, !Catch::Contains("cmyk.jpg") && !Catch::Contains("ok.jpg"));
  CHECK_THAT(tervit::testing::read_text(dir / "err.txt"), Catch::Contains("7 images checked, 3 bad"));

  fs::remove_all(dir / "data" / "mixed");
  CHECK(run((dir / "data").string()) == 0);
  CHECK(tervit::testing::read_text(dir / "out.txt").empty());
  CHECK(run((dir / "missing").string()) == 2);
  CHECK_THAT(tervit::testing::read_text(dir / "err.txt"), Catch::Contains("missing"));
}
