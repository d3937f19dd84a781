// The compute side of an instance. An executor is created on the JS thread but Init, Run and Shutdown
// are only ever called on the instance's own thread, in that order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace iaas {

struct ConstSpan {
  const uint8_t* data;
  size_t size;
};

struct MutableSpan {
  uint8_t* data;
  size_t size;
};

// Buffers already validated against the instance's kernel (counts and byte lengths).
struct ExecuteBuffers {
  std::vector<ConstSpan> inputs;
  std::vector<MutableSpan> outputs;
  size_t batch = 0;  // dense_mlp only
};

struct PhaseTimings {
  int64_t computeInputNs = 0;
  int64_t computeInferNs = 0;
  int64_t computeOutputNs = 0;
};

class Executor {
 public:
  virtual ~Executor() = default;
  // Binds device resources to the calling (instance) thread. Throws std::runtime_error on failure.
  virtual void Init() {}
  // Throws std::runtime_error on failure; the instance stays usable afterwards.
  virtual PhaseTimings Run(const ExecuteBuffers& buffers) = 0;
  // Frees device resources; called once, on the instance thread, before it exits.
  virtual void Shutdown() {}
};

}  // namespace iaas
