#pragma once

namespace tervit {

// Peak resident set of this process (VmHWM in /proc/self/status), in MB (10^6 bytes); 0 where unknown.
double peak_rss_megabytes();

}  // namespace tervit
