// libFuzzer target: the safetensors reader, which weights, checkpoints and packed models all pass through.
// Rejecting the input with tervit::Error is the expected outcome; any other exception escapes and, like
// every sanitizer report, counts as a finding.
#include <cstddef>
#include <cstdint>

#include "tervit/core/error.h"
#include "tervit/libtorch/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    tervit::parse_safetensors(data, size, "input");
  } catch (const tervit::Error&) {
  }
  return 0;
}
