// libFuzzer target: the image decode path of the data loader. EncodedImage reads the header (and decodes
// formats other than JPEG whole, through OpenCV), then the image is decoded whole and as a crop, as
// RandomResizedCrop does.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "tervit/core/error.h"
#include "tervit/data/encoded_image.h"

// Decoding is skipped above this many pixels: a header may claim any size, and a few hundred bytes that
// decode to gigabytes of grey would only exhaust the fuzzer's memory, not test more code.
constexpr int64_t kMaxFuzzPixels = int64_t{1} << 22;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The same cap for the formats OpenCV decodes whole, checked from their headers by tervit's pixel budget
  // (read at the first decode; OpenCV's own OPENCV_IO_MAX_IMAGE_PIXELS is read before main, too early to set here).
  setenv("TERVIT_MAX_IMAGE_PIXELS", "4194304", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const tervit::data::EncodedImage image(std::vector<uint8_t>(data, data + size), "input");
    const cv::Size whole = image.size();
    if (static_cast<int64_t>(whole.width) * whole.height > kMaxFuzzPixels) return 0;
    const cv::Mat decoded = image.decode();
    const cv::Rect centre(whole.width / 4, whole.height / 4, std::max(whole.width / 2, 1), std::max(whole.height / 2, 1));
    const cv::Mat crop = image.decode(centre);
    // The decoders promise 8-bit RGB of the size the header gave.
    if (decoded.type() != CV_8UC3 || decoded.size() != whole || crop.type() != CV_8UC3 || crop.size() != centre.size())
      std::abort();
  } catch (const tervit::Error&) {
  }
  return 0;
}
