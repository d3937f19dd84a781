// CUDA executor: the instance thread binds its device once (cudaSetDevice in Init), owns one stream and
// device buffers that grow to the largest request seen. Phases are timed on the host after synchronising
// the stream: compute_input = host-to-device copies, compute_infer = kernels, compute_output = device-to-host.
#include <cuda_runtime_api.h>

#include <climits>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "../clock.h"
#include "../cuda_api.h"
#include "cuda_kernels.h"

namespace iaas::cuda {
namespace {

void Check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string(what) + " failed: " + cudaGetErrorName(err) + " (" +
                             cudaGetErrorString(err) + ")");
  }
}

class DeviceBuffer {
 public:
  void Reserve(size_t bytes) {
    if (bytes <= capacity_) return;
    Free();
    Check(cudaMalloc(&ptr_, bytes), "cudaMalloc");
    capacity_ = bytes;
  }
  void Free() {
    if (ptr_ != nullptr) cudaFree(ptr_);
    ptr_ = nullptr;
    capacity_ = 0;
  }
  template <typename T>
  T* As() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  size_t capacity_ = 0;
};

class CudaExecutorBase : public Executor {
 public:
  explicit CudaExecutorBase(int deviceId) : deviceId_(deviceId) {}

  void Init() override {
    Check(cudaSetDevice(deviceId_), "cudaSetDevice");
    Check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    InitKernel();
  }

  void Shutdown() override {
    // Errors are ignored: a device in an error state still has to release what it can.
    if (stream_ != nullptr) cudaStreamSynchronize(stream_);
    FreeBuffers();
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
    stream_ = nullptr;
  }

 protected:
  virtual void InitKernel() {}
  virtual void FreeBuffers() = 0;

  // Waits for the stream and returns the nanoseconds since `since`, updating `since` to now.
  int64_t SyncPhase(int64_t& since, const char* phase) {
    Check(cudaStreamSynchronize(stream_), phase);
    const int64_t now = MonotonicNs();
    const int64_t elapsed = now - since;
    since = now;
    return elapsed;
  }

  int deviceId_;
  cudaStream_t stream_ = nullptr;
};

class CudaAddSubExecutor final : public CudaExecutorBase {
 public:
  using CudaExecutorBase::CudaExecutorBase;

  PhaseTimings Run(const ExecuteBuffers& buffers) override {
    const size_t bytes = buffers.inputs[0].size;
    for (DeviceBuffer& buf : device_) buf.Reserve(bytes);
    PhaseTimings t;
    int64_t since = MonotonicNs();
    if (bytes > 0) {
      Check(cudaMemcpyAsync(device_[0].As<void>(), buffers.inputs[0].data, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync(input a)");
      Check(cudaMemcpyAsync(device_[1].As<void>(), buffers.inputs[1].data, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync(input b)");
    }
    t.computeInputNs = SyncPhase(since, "input copy");
    Check(LaunchAddSubI32(device_[0].As<int32_t>(), device_[1].As<int32_t>(), device_[2].As<int32_t>(),
                          device_[3].As<int32_t>(), bytes / 4, stream_),
          "add_sub_i32 kernel launch");
    t.computeInferNs = SyncPhase(since, "add_sub_i32 kernel");
    if (bytes > 0) {
      Check(cudaMemcpyAsync(buffers.outputs[0].data, device_[2].As<void>(), bytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync(output sum)");
      Check(cudaMemcpyAsync(buffers.outputs[1].data, device_[3].As<void>(), bytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync(output difference)");
    }
    t.computeOutputNs = SyncPhase(since, "output copy");
    return t;
  }

 private:
  void FreeBuffers() override {
    for (DeviceBuffer& buf : device_) buf.Free();
  }
  DeviceBuffer device_[4];  // a, b, a+b, a-b
};

class CudaCopyExecutor final : public CudaExecutorBase {
 public:
  using CudaExecutorBase::CudaExecutorBase;

  PhaseTimings Run(const ExecuteBuffers& buffers) override {
    const size_t n = buffers.inputs.size();
    if (in_.size() < n) {
      in_.resize(n);
      out_.resize(n);
    }
    for (size_t i = 0; i < n; ++i) {
      in_[i].Reserve(buffers.inputs[i].size);
      out_[i].Reserve(buffers.inputs[i].size);
    }
    PhaseTimings t;
    int64_t since = MonotonicNs();
    for (size_t i = 0; i < n; ++i) {
      if (buffers.inputs[i].size == 0) continue;
      Check(cudaMemcpyAsync(in_[i].As<void>(), buffers.inputs[i].data, buffers.inputs[i].size, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync(input)");
    }
    t.computeInputNs = SyncPhase(since, "input copy");
    for (size_t i = 0; i < n; ++i) {
      if (buffers.inputs[i].size == 0) continue;
      Check(cudaMemcpyAsync(out_[i].As<void>(), in_[i].As<void>(), buffers.inputs[i].size, cudaMemcpyDeviceToDevice, stream_), "cudaMemcpyAsync(device copy)");
    }
    t.computeInferNs = SyncPhase(since, "device copy");
    for (size_t i = 0; i < n; ++i) {
      if (buffers.inputs[i].size == 0) continue;
      Check(cudaMemcpyAsync(buffers.outputs[i].data, out_[i].As<void>(), buffers.inputs[i].size, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync(output)");
    }
    t.computeOutputNs = SyncPhase(since, "output copy");
    return t;
  }

 private:
  void FreeBuffers() override {
    for (DeviceBuffer& buf : in_) buf.Free();
    for (DeviceBuffer& buf : out_) buf.Free();
  }
  std::vector<DeviceBuffer> in_;
  std::vector<DeviceBuffer> out_;
};

class CudaDenseExecutor final : public CudaExecutorBase {
 public:
  CudaDenseExecutor(const InstanceConfig& config)
      : CudaExecutorBase(config.deviceId), layers_(config.layers), widest_(config.DenseMaxFeatures()) {}

  PhaseTimings Run(const ExecuteBuffers& buffers) override {
    const size_t batch = buffers.batch;
    if (batch > static_cast<size_t>(INT_MAX) / widest_) {
      throw std::runtime_error("batch " + std::to_string(batch) + " is too large for the CUDA dense kernel");
    }
    const size_t inBytes = batch * layers_.front().inFeatures * sizeof(float);
    const size_t outBytes = batch * layers_.back().outFeatures * sizeof(float);
    input_.Reserve(inBytes);
    ping_.Reserve(batch * widest_ * sizeof(float));
    pong_.Reserve(batch * widest_ * sizeof(float));

    PhaseTimings t;
    int64_t since = MonotonicNs();
    Check(cudaMemcpyAsync(input_.As<void>(), buffers.inputs[0].data, inBytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync(input)");
    t.computeInputNs = SyncPhase(since, "input copy");

    const float* current = input_.As<float>();
    for (size_t li = 0; li < layers_.size(); ++li) {
      const DenseLayer& layer = layers_[li];
      float* dest = current == ping_.As<float>() ? pong_.As<float>() : ping_.As<float>();
      Check(LaunchDenseLayer(current, weights_[li].As<float>(), biases_[li].As<float>(), dest, batch,
                             layer.inFeatures, layer.outFeatures, /*relu=*/li + 1 < layers_.size(), stream_),
            "dense_mlp kernel launch");
      current = dest;
    }
    t.computeInferNs = SyncPhase(since, "dense_mlp kernels");

    Check(cudaMemcpyAsync(buffers.outputs[0].data, current, outBytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync(output)");
    t.computeOutputNs = SyncPhase(since, "output copy");
    return t;
  }

 private:
  void InitKernel() override {
    weights_.resize(layers_.size());
    biases_.resize(layers_.size());
    for (size_t li = 0; li < layers_.size(); ++li) {
      const DenseLayer& layer = layers_[li];
      weights_[li].Reserve(layer.weights.size() * sizeof(float));
      biases_[li].Reserve(layer.bias.size() * sizeof(float));
      Check(cudaMemcpy(weights_[li].As<void>(), layer.weights.data(), layer.weights.size() * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy(weights)");
      Check(cudaMemcpy(biases_[li].As<void>(), layer.bias.data(), layer.bias.size() * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy(bias)");
    }
    // The host copies are no longer needed once the weights live on the device.
    for (DenseLayer& layer : layers_) {
      std::vector<float>().swap(layer.weights);
      std::vector<float>().swap(layer.bias);
    }
  }

  void FreeBuffers() override {
    for (DeviceBuffer& buf : weights_) buf.Free();
    for (DeviceBuffer& buf : biases_) buf.Free();
    input_.Free();
    ping_.Free();
    pong_.Free();
  }

  std::vector<DenseLayer> layers_;
  size_t widest_;
  std::vector<DeviceBuffer> weights_;
  std::vector<DeviceBuffer> biases_;
  DeviceBuffer input_;
  DeviceBuffer ping_;
  DeviceBuffer pong_;
};

}  // namespace

std::unique_ptr<Executor> MakeCudaExecutor(const InstanceConfig& config) {
  const CudaStatus& status = QueryCudaStatus();
  if (!status.available) throw std::invalid_argument("CUDA backend not available: " + status.unavailableReason);
  const GpuDescription* gpu = nullptr;
  for (const GpuDescription& g : status.gpus) {
    if (g.id == config.deviceId) gpu = &g;
  }
  if (gpu == nullptr) {
    throw std::invalid_argument("deviceId " + std::to_string(config.deviceId) + " is not a CUDA device here (found " +
                                std::to_string(status.gpus.size()) + " GPU(s))");
  }
  if (gpu->major * 10 + gpu->minor < kMinComputeCapability) {
    throw std::invalid_argument("deviceId " + std::to_string(config.deviceId) + " (" + gpu->name +
                                ") has compute capability " + std::to_string(gpu->major) + "." +
                                std::to_string(gpu->minor) + "; the kernels need 7.5 or newer");
  }
  switch (config.kernel) {
    case KernelKind::kAddSubI32: return std::make_unique<CudaAddSubExecutor>(config.deviceId);
    case KernelKind::kCopy: return std::make_unique<CudaCopyExecutor>(config.deviceId);
    case KernelKind::kDenseMlp: return std::make_unique<CudaDenseExecutor>(config);
  }
  throw std::logic_error("unhandled kernel kind");
}

}  // namespace iaas::cuda
