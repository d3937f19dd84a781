// Register- and cache-blocked dense layer, compiled once per instruction set: the including file defines
// IAAS_DENSE_NS and compiler flags (-mavx2 -mfma or none), so the same source yields each variant.
//
// Blocking: W is [out, in] row-major and x is [batch, in], so each output is a dot product of two
// contiguous rows. A micro-kernel computes RB batch rows x RO outputs at once, loading each W chunk once
// for RB rows and each x chunk once for RO outputs. Batch rows are processed in tiles small enough to
// stay in L2 while all of W streams through once per tile.
//
// Everything here is static, always-inline or namespaced per variant: a weak (COMDAT) symbol compiled with
// -mavx2 could otherwise be picked by the linker for the generic variant too and fault on older CPUs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>

#ifndef IAAS_DENSE_NS
#error "define IAAS_DENSE_NS before including dense_cpu_impl.h"
#endif

namespace iaas::cpu::IAAS_DENSE_NS {

// 8 floats: one AVX register, or two SSE registers in the generic build.
typedef float Vec8 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) Vec8 Load8(const float* p) {
  Vec8 v;
  std::memcpy(&v, p, sizeof v);  // unaligned load without aliasing questions
  return v;
}

static inline __attribute__((always_inline)) float HorizontalSum(Vec8 v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

template <int RB, int RO>
static inline __attribute__((always_inline)) void MicroKernel(const float* x, const float* w, const float* bias,
                                                              float* y, size_t b, size_t o, size_t in,
                                                              size_t out, bool relu) {
  Vec8 acc[RB][RO];
  for (int r = 0; r < RB; ++r)
    for (int c = 0; c < RO; ++c) acc[r][c] = Vec8{};

  const float* xRow[RB];
  const float* wRow[RO];
  for (int r = 0; r < RB; ++r) xRow[r] = x + (b + r) * in;
  for (int c = 0; c < RO; ++c) wRow[c] = w + (o + c) * in;

  size_t i = 0;
  for (; i + 8 <= in; i += 8) {
    Vec8 wv[RO];
    for (int c = 0; c < RO; ++c) wv[c] = Load8(wRow[c] + i);
    for (int r = 0; r < RB; ++r) {
      const Vec8 xv = Load8(xRow[r] + i);
      for (int c = 0; c < RO; ++c) acc[r][c] += xv * wv[c];
    }
  }

  for (int r = 0; r < RB; ++r) {
    for (int c = 0; c < RO; ++c) {
      float s = HorizontalSum(acc[r][c]);
      for (size_t k = i; k < in; ++k) s += xRow[r][k] * wRow[c][k];
      s += bias[o + c];
      if (relu && !(s > 0.0f)) s = 0.0f;
      y[(b + r) * out + o + c] = s;
    }
  }
}

template <int RO>
static inline __attribute__((always_inline)) void RowsOfTile(const float* x, const float* w, const float* bias,
                                                             float* y, size_t bBegin, size_t bEnd, size_t o,
                                                             size_t in, size_t out, bool relu) {
  size_t b = bBegin;
  for (; b + 4 <= bEnd; b += 4) MicroKernel<4, RO>(x, w, bias, y, b, o, in, out, relu);
  for (; b < bEnd; ++b) MicroKernel<1, RO>(x, w, bias, y, b, o, in, out, relu);
}

void DenseLayerForward(const float* x, const float* w, const float* bias, float* y, size_t batch, size_t in,
                       size_t out, bool relu) {
  // Rows of x per tile: about 128 KiB of activations, at least 4 rows so the 4-row micro-kernel applies.
  const size_t tileRows = std::max<size_t>(4, (128 * 1024 / sizeof(float)) / std::max<size_t>(in, 1));
  for (size_t bBegin = 0; bBegin < batch; bBegin += tileRows) {
    const size_t bEnd = std::min(batch, bBegin + tileRows);
    size_t o = 0;
    // One batch row (the latency case) is bound by streaming W; four outputs at a time gives the
    // loads enough independent accumulators. With several rows, 4x2 keeps 8 accumulators in registers.
    if (bEnd - bBegin < 4) {
      for (; o + 4 <= out; o += 4) RowsOfTile<4>(x, w, bias, y, bBegin, bEnd, o, in, out, relu);
    } else {
      for (; o + 2 <= out; o += 2) RowsOfTile<2>(x, w, bias, y, bBegin, bEnd, o, in, out, relu);
    }
    for (; o < out; ++o) RowsOfTile<1>(x, w, bias, y, bBegin, bEnd, o, in, out, relu);
  }
}

}  // namespace iaas::cpu::IAAS_DENSE_NS
