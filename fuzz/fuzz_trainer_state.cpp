// libFuzzer target: the checkpoint trainer-state reader (trainer_state.json). A state it accepts must
// survive being written and read again: what resume reads back is what it wrote.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tervit/core/error.h"
#include "tervit/engine/trainer_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tervit::engine::TrainerState state;
  try {
    state = tervit::engine::parse_trainer_state(std::string(reinterpret_cast<const char*>(data), size), "input");
  } catch (const tervit::Error&) {
    return 0;
  }
  // Outside the try: a state that does not read back is a finding.
  tervit::engine::parse_trainer_state(tervit::engine::trainer_state_json(state), "written state");
  return 0;
}
