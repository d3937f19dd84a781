// Kernel launchers (cuda_kernels.cu). They only enqueue work on `stream`; the return value reports
// launch errors, not execution errors (those surface at the next synchronisation).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace iaas::cuda {

cudaError_t LaunchAddSubI32(const int32_t* a, const int32_t* b, int32_t* sum, int32_t* diff, size_t count,
                            cudaStream_t stream);

// y[batch, out] = x[batch, in] * W[out, in]^T + bias, ReLU when `relu`.
cudaError_t LaunchDenseLayer(const float* x, const float* weights, const float* bias, float* y, size_t batch,
                             size_t inFeatures, size_t outFeatures, bool relu, cudaStream_t stream);

}  // namespace iaas::cuda
