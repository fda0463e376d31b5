#include "tervit/core/error_report.h"

#include <exception>
#include <filesystem>
#include <new>

#include "tervit/core/error.h"
#include "tervit/core/exit_codes.h"
#include "tervit/core/strings.h"

namespace tervit {

namespace {

// Long enough for any real message (a load report lists hundreds of tensor names), short of the
// megabytes an echoed outside value may hold.
constexpr size_t kMaxMessageChars = 65536;

}  // namespace

int ErrorReport::exit_code() const { return kind == ErrorKind::kBadInput ? kExitBadInput : kExitFailure; }

ErrorReport report_current_exception() {
  try {
    throw;
  } catch (const Error& e) {
    return {ErrorKind::kBadInput, abbreviated(e.what(), kMaxMessageChars)};
  } catch (const std::filesystem::filesystem_error& e) {
    return {ErrorKind::kBadInput, abbreviated(e.what(), kMaxMessageChars)};
  } catch (const std::bad_alloc&) {
    return {ErrorKind::kOutOfMemory, "out of memory"};
  } catch (const std::exception& e) {
    return {ErrorKind::kInternal, abbreviated(e.what(), kMaxMessageChars)};
  } catch (...) {
    return {ErrorKind::kInternal, "an exception of unknown type"};
  }
}

}  // namespace tervit
