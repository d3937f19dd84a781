// The compute side of an instance. An executor is created on the JS thread but Init, Run and Shutdown
// are called on the instance's own thread, in that order. The one exception: CPU copy / add_sub_i32
// executors created with inlineMaxBytes > 0 also Run on the JS thread, only while the instance thread has
// no job (see instance_core.h), so two Runs of one executor never overlap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
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

// A tensor given as several buffers (a dynamic batch: one part per request, in batch order). The
// instance thread gathers input parts into `staging` before Run and scatters outputs back after it, so
// executors only ever see contiguous spans and the JS thread copies nothing.
struct SegmentedInput {
  size_t index;  // position in ExecuteBuffers::inputs
  std::vector<ConstSpan> parts;
};
struct SegmentedOutput {
  size_t index;  // position in ExecuteBuffers::outputs
  std::vector<MutableSpan> parts;
};

// Buffers already validated against the instance's kernel (counts and byte lengths).
struct ExecuteBuffers {
  std::vector<ConstSpan> inputs;
  std::vector<MutableSpan> outputs;
  size_t batch = 0;  // dense_mlp only
  std::vector<SegmentedInput> gather;
  std::vector<SegmentedOutput> scatter;
  // Contiguous memory behind the segmented entries of inputs/outputs (allocated on the instance thread).
  std::vector<std::unique_ptr<uint8_t[]>> staging;
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
