#include "cuda_kernels.h"

#include <algorithm>

namespace iaas::cuda {
namespace {

__global__ void AddSubI32Kernel(const int32_t* a, const int32_t* b, int32_t* sum, int32_t* diff, size_t count) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    // Unsigned arithmetic: int32 wrap-around without signed-overflow undefined behaviour.
    const uint32_t va = static_cast<uint32_t>(a[i]);
    const uint32_t vb = static_cast<uint32_t>(b[i]);
    sum[i] = static_cast<int32_t>(va + vb);
    diff[i] = static_cast<int32_t>(va - vb);
  }
}

// Few batch rows make the layer a matrix-vector product bound by reading W once: one warp per output
// neuron reads its W row coalesced and accumulates every batch row at the same time.
template <int MaxBatch>
__global__ void DenseWarpPerOutputKernel(const float* __restrict__ x, const float* __restrict__ w,
                                         const float* __restrict__ bias, float* __restrict__ y, int batch,
                                         int in, int out, bool relu) {
  const int warp = static_cast<int>((static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32);
  const int lane = threadIdx.x % 32;
  if (warp >= out) return;  // uniform across the warp: blockDim.x is a multiple of 32
  const float* wRow = w + static_cast<size_t>(warp) * in;
  float acc[MaxBatch];
#pragma unroll
  for (int b = 0; b < MaxBatch; ++b) acc[b] = 0.0f;
  for (int i = lane; i < in; i += 32) {
    const float wv = wRow[i];
#pragma unroll
    for (int b = 0; b < MaxBatch; ++b) {
      if (b < batch) acc[b] = fmaf(wv, x[static_cast<size_t>(b) * in + i], acc[b]);
    }
  }
#pragma unroll
  for (int b = 0; b < MaxBatch; ++b) {
    float v = acc[b];
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    if (lane == 0 && b < batch) {
      v += bias[warp];
      if (relu && !(v > 0.0f)) v = 0.0f;
      y[static_cast<size_t>(b) * out + warp] = v;
    }
  }
}

constexpr int kTile = 16;

// Larger batches: shared-memory tiled GEMM, C[b, o] = sum_k X[b, k] * W[o, k], with bias and ReLU fused.
__global__ void DenseTiledKernel(const float* __restrict__ x, const float* __restrict__ w,
                                 const float* __restrict__ bias, float* __restrict__ y, int batch, int in,
                                 int out, bool relu) {
  // +1 column of padding: threads of a warp read ws[tx][kk] with different tx, which would otherwise
  // all fall into the same shared-memory bank.
  __shared__ float xs[kTile][kTile + 1];
  __shared__ float ws[kTile][kTile + 1];
  const int tx = threadIdx.x;
  const int ty = threadIdx.y;
  const int row = blockIdx.y * kTile + ty;           // batch row computed by this thread
  const int col = blockIdx.x * kTile + tx;           // output feature computed by this thread
  const int wLoadRow = blockIdx.x * kTile + ty;      // W row this thread stages into shared memory
  float acc = 0.0f;
  for (int k0 = 0; k0 < in; k0 += kTile) {
    const int k = k0 + tx;
    xs[ty][tx] = (row < batch && k < in) ? x[static_cast<size_t>(row) * in + k] : 0.0f;
    ws[ty][tx] = (wLoadRow < out && k < in) ? w[static_cast<size_t>(wLoadRow) * in + k] : 0.0f;
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTile; ++kk) acc = fmaf(xs[ty][kk], ws[tx][kk], acc);
    __syncthreads();
  }
  if (row < batch && col < out) {
    acc += bias[col];
    if (relu && !(acc > 0.0f)) acc = 0.0f;
    y[static_cast<size_t>(row) * out + col] = acc;
  }
}

template <int MaxBatch>
void LaunchWarpPerOutput(const float* x, const float* w, const float* bias, float* y, int batch, int in, int out,
                         bool relu, cudaStream_t stream) {
  constexpr int kThreads = 256;
  constexpr int kWarpsPerBlock = kThreads / 32;
  const unsigned blocks = static_cast<unsigned>((out + kWarpsPerBlock - 1) / kWarpsPerBlock);
  DenseWarpPerOutputKernel<MaxBatch><<<blocks, kThreads, 0, stream>>>(x, w, bias, y, batch, in, out, relu);
}

}  // namespace

cudaError_t LaunchAddSubI32(const int32_t* a, const int32_t* b, int32_t* sum, int32_t* diff, size_t count,
                            cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  constexpr size_t kThreads = 256;
  const size_t blocks = std::min<size_t>((count + kThreads - 1) / kThreads, 65535);
  AddSubI32Kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(a, b, sum, diff, count);
  return cudaGetLastError();
}

cudaError_t LaunchDenseLayer(const float* x, const float* weights, const float* bias, float* y, size_t batch,
                             size_t inFeatures, size_t outFeatures, bool relu, cudaStream_t stream) {
  if (batch == 0) return cudaSuccess;
  const int b = static_cast<int>(batch);
  const int in = static_cast<int>(inFeatures);
  const int out = static_cast<int>(outFeatures);
  if (batch <= 1) {
    LaunchWarpPerOutput<1>(x, weights, bias, y, b, in, out, relu, stream);
  } else if (batch <= 2) {
    LaunchWarpPerOutput<2>(x, weights, bias, y, b, in, out, relu, stream);
  } else if (batch <= 4) {
    LaunchWarpPerOutput<4>(x, weights, bias, y, b, in, out, relu, stream);
  } else if (batch <= 8) {
    LaunchWarpPerOutput<8>(x, weights, bias, y, b, in, out, relu, stream);
  } else {
    const dim3 threads(kTile, kTile);
    const dim3 blocks(static_cast<unsigned>((out + kTile - 1) / kTile), static_cast<unsigned>((b + kTile - 1) / kTile));
    if (blocks.y > 65535) return cudaErrorInvalidConfiguration;
    DenseTiledKernel<<<blocks, threads, 0, stream>>>(x, weights, bias, y, b, in, out, relu);
  }
  return cudaGetLastError();
}

}  // namespace iaas::cuda
