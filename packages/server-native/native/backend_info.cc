#include "backend_info.h"

#include "cpu_kernels.h"
#if defined(IAAS_WITH_CUDA)
#include "cuda_api.h"
#endif

namespace iaas {

Napi::Value BackendInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  Napi::Array compiled = Napi::Array::New(env);
  Napi::Array available = Napi::Array::New(env);
  Napi::Array gpus = Napi::Array::New(env);
  compiled.Set(0u, "cpu");
  available.Set(0u, "cpu");
#if defined(IAAS_WITH_CUDA)
  compiled.Set(1u, "cuda");
  const cuda::CudaStatus& status = cuda::QueryCudaStatus();
  if (status.available) available.Set(1u, "cuda");
  for (size_t i = 0; i < status.gpus.size(); ++i) {
    const cuda::GpuDescription& gpu = status.gpus[i];
    Napi::Object g = Napi::Object::New(env);
    g.Set("id", gpu.id);
    g.Set("name", gpu.name);
    g.Set("totalMemoryBytes", static_cast<double>(gpu.totalMemoryBytes));
    g.Set("computeCapability", std::to_string(gpu.major) + "." + std::to_string(gpu.minor));
    gpus.Set(static_cast<uint32_t>(i), g);
  }
  if (!status.available) result.Set("cudaUnavailableReason", status.unavailableReason);
  if (!status.runtimeVersion.empty()) result.Set("cudaRuntimeVersion", status.runtimeVersion);
#else
  result.Set("cudaUnavailableReason", "the addon was built without CUDA (no nvcc found at build time, or IAAS_CUDA=0)");
#endif
  result.Set("compiled", compiled);
  result.Set("available", available);
  result.Set("gpus", gpus);
  result.Set("cpuIsa", cpu::DenseIsaName());
  return result;
}

}  // namespace iaas
