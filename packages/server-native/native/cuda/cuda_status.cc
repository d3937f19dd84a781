// Device discovery. With the runtime linked statically, a machine without a driver or GPU still loads the
// addon; the runtime then reports an error from the first call, which becomes the "unavailable" reason.
#include <cuda_runtime_api.h>

#include <mutex>
#include <string>

#include "../cuda_api.h"

namespace iaas::cuda {
namespace {

std::string DescribeError(cudaError_t err) {
  return std::string(cudaGetErrorName(err)) + " (" + cudaGetErrorString(err) + ")";
}

CudaStatus Discover() {
  CudaStatus status;
  int runtimeVersion = 0;
  if (cudaRuntimeGetVersion(&runtimeVersion) == cudaSuccess) {
    status.runtimeVersion = std::to_string(runtimeVersion / 1000) + "." + std::to_string((runtimeVersion % 1000) / 10);
  }
  int driverVersion = 0;
  if (cudaDriverGetVersion(&driverVersion) != cudaSuccess || driverVersion == 0) {
    status.unavailableReason = "no CUDA driver found (libcuda.so.1 could not be loaded)";
    return status;
  }
  int count = 0;
  const cudaError_t countErr = cudaGetDeviceCount(&count);
  if (countErr != cudaSuccess) {
    status.unavailableReason = "cudaGetDeviceCount failed: " + DescribeError(countErr);
    return status;
  }
  if (count == 0) {
    status.unavailableReason = "the CUDA driver reports no devices";
    return status;
  }
  bool anyUsable = false;
  for (int id = 0; id < count; ++id) {
    cudaDeviceProp prop{};
    const cudaError_t propErr = cudaGetDeviceProperties(&prop, id);
    if (propErr != cudaSuccess) {
      status.unavailableReason = "cudaGetDeviceProperties(" + std::to_string(id) + ") failed: " + DescribeError(propErr);
      continue;
    }
    GpuDescription gpu;
    gpu.id = id;
    gpu.name = prop.name;
    gpu.totalMemoryBytes = prop.totalGlobalMem;
    gpu.major = prop.major;
    gpu.minor = prop.minor;
    if (prop.major * 10 + prop.minor >= kMinComputeCapability) anyUsable = true;
    status.gpus.push_back(std::move(gpu));
  }
  status.available = anyUsable;
  if (anyUsable) {
    status.unavailableReason.clear();
  } else if (status.unavailableReason.empty()) {
    status.unavailableReason = "no GPU with compute capability >= 7.5 (the oldest architecture the kernels are built for)";
  }
  return status;
}

}  // namespace

const CudaStatus& QueryCudaStatus() {
  static std::once_flag once;
  static CudaStatus status;
  std::call_once(once, [] { status = Discover(); });
  return status;
}

}  // namespace iaas::cuda
