// Monotonic nanoseconds on the same clock as process.hrtime.bigint() (CLOCK_MONOTONIC on Linux),
// so JS callers can place native timestamps on their own timeline.
#pragma once

#include <cstdint>
#include <ctime>

namespace iaas {

inline int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace iaas
