// CUDA backend seen from the rest of the addon: plain C++, no CUDA headers, so files built by g++ without
// the toolkit can include it. Implemented in cuda/ and only linked when the addon is built with IAAS_WITH_CUDA.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "executor.h"
#include "instance_config.h"

namespace iaas::cuda {

// Oldest compute capability the compiled kernels run on (the lowest gencode target), as major*10+minor.
constexpr int kMinComputeCapability = 75;

struct GpuDescription {
  int id = 0;
  std::string name;
  size_t totalMemoryBytes = 0;
  int major = 0;
  int minor = 0;
};

struct CudaStatus {
  bool available = false;
  std::string unavailableReason;  // set when !available
  std::string runtimeVersion;     // e.g. "13.0"
  std::vector<GpuDescription> gpus;
};

// Queried once per process (device enumeration initialises the CUDA runtime), then cached. Never throws.
const CudaStatus& QueryCudaStatus();

// Throws std::invalid_argument for a device id that cannot be used. The executor binds the device in Init().
std::unique_ptr<Executor> MakeCudaExecutor(const InstanceConfig& config);

}  // namespace iaas::cuda
