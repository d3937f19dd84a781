// CPU kernels. Element buffers may be unaligned for add_sub_i32 and copy; the dense kernel takes
// float pointers, so its caller guarantees 4-byte alignment.
#pragma once

#include <cstddef>
#include <cstdint>

namespace iaas::cpu {

// sum = a + b, diff = a - b with int32 wrap-around. Exact aliasing of an output with an input is allowed.
void AddSubI32(const uint8_t* a, const uint8_t* b, uint8_t* sum, uint8_t* diff, size_t count);

// y[batch, out] = x[batch, in] * W[out, in]^T + bias, then ReLU when `relu`. x and y must not overlap.
void DenseLayerForward(const float* x, const float* weights, const float* bias, float* y, size_t batch,
                       size_t inFeatures, size_t outFeatures, bool relu);

// Instruction set the dense kernel dispatches to on this machine: "avx2+fma" or "generic".
// IAAS_CPU_ISA=generic in the environment forces the portable variant (for testing it).
const char* DenseIsaName();

}  // namespace iaas::cpu
