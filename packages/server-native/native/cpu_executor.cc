// CPU executor. Phases follow Triton's meaning: compute_input stages inputs where the kernel can read them
// (only needed when a buffer is not 4-byte aligned for float access), compute_infer runs the kernel, and
// compute_output moves results into the caller's output buffers when they could not be written in place.
#include "cpu_executor.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "clock.h"
#include "cpu_kernels.h"
#include "dense_weights.h"

namespace iaas {
namespace {

bool FloatAligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % alignof(float) == 0; }

class CpuAddSubExecutor final : public Executor {
 public:
  PhaseTimings Run(const ExecuteBuffers& buffers) override {
    PhaseTimings t;
    const int64_t start = MonotonicNs();
    cpu::AddSubI32(buffers.inputs[0].data, buffers.inputs[1].data, buffers.outputs[0].data,
                   buffers.outputs[1].data, buffers.inputs[0].size / 4);
    t.computeInferNs = MonotonicNs() - start;
    return t;
  }
};

class CpuCopyExecutor final : public Executor {
 public:
  PhaseTimings Run(const ExecuteBuffers& buffers) override {
    PhaseTimings t;
    const int64_t start = MonotonicNs();
    for (size_t i = 0; i < buffers.inputs.size(); ++i) {
      if (buffers.inputs[i].size > 0) {
        std::memcpy(buffers.outputs[i].data, buffers.inputs[i].data, buffers.inputs[i].size);
      }
    }
    t.computeInferNs = MonotonicNs() - start;
    return t;
  }
};

class CpuDenseExecutor final : public Executor {
 public:
  // Instances created with the same weights share one read-only copy (dense_weights.h).
  explicit CpuDenseExecutor(const InstanceConfig& config)
      : shared_(ShareDenseLayers(config.layers)), layers_(*shared_), widest_(config.DenseMaxFeatures()) {}

  PhaseTimings Run(const ExecuteBuffers& buffers) override {
    PhaseTimings t;
    const size_t batch = buffers.batch;
    const size_t inFeatures = layers_.front().inFeatures;
    const size_t outFeatures = layers_.back().outFeatures;
    const size_t widest = widest_;
    // Two ping-pong activation buffers plus a staging area for a misaligned input, grown on demand and
    // kept for later executions.
    if (scratch_.size() < 3 * batch * widest) scratch_.resize(3 * batch * widest);
    float* ping = scratch_.data();
    float* pong = ping + batch * widest;
    float* staging = pong + batch * widest;

    int64_t phaseStart = MonotonicNs();
    const uint8_t* rawIn = buffers.inputs[0].data;
    const float* x;
    if (FloatAligned(rawIn)) {
      x = reinterpret_cast<const float*>(rawIn);
    } else {
      std::memcpy(staging, rawIn, batch * inFeatures * sizeof(float));
      x = staging;
    }
    int64_t now = MonotonicNs();
    t.computeInputNs = now - phaseStart;
    phaseStart = now;

    uint8_t* rawOut = buffers.outputs[0].data;
    const bool writeInPlace = FloatAligned(rawOut);
    const float* current = x;
    float* result = nullptr;
    for (size_t li = 0; li < layers_.size(); ++li) {
      const DenseLayer& layer = layers_[li];
      const bool last = li + 1 == layers_.size();
      float* dest = (last && writeInPlace) ? reinterpret_cast<float*>(rawOut) : (current == ping ? pong : ping);
      cpu::DenseLayerForward(current, layer.weights.data(), layer.bias.data(), dest, batch, layer.inFeatures,
                             layer.outFeatures, /*relu=*/!last);
      current = dest;
      result = dest;
    }
    now = MonotonicNs();
    t.computeInferNs = now - phaseStart;
    phaseStart = now;

    if (!writeInPlace) std::memcpy(rawOut, result, batch * outFeatures * sizeof(float));
    t.computeOutputNs = MonotonicNs() - phaseStart;
    return t;
  }

 private:
  SharedDenseLayers shared_;
  const std::vector<DenseLayer>& layers_;
  size_t widest_;
  std::vector<float> scratch_;
};

}  // namespace

std::unique_ptr<Executor> MakeCpuExecutor(const InstanceConfig& config) {
  switch (config.kernel) {
    case KernelKind::kAddSubI32: return std::make_unique<CpuAddSubExecutor>();
    case KernelKind::kCopy: return std::make_unique<CpuCopyExecutor>();
    case KernelKind::kDenseMlp: return std::make_unique<CpuDenseExecutor>(config);
  }
  throw std::logic_error("unhandled kernel kind");
}

}  // namespace iaas
