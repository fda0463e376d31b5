#pragma once
// The exit-code contract of every tervit executable, LibTorch-free ones included.

namespace tervit {

// 0 success, 1 internal failure, 2 bad input (tervit::Error, CLI parse errors), 3 partial success (some
// inputs failed, the rest were processed).
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitPartial = 3;

}  // namespace tervit
