#include "cpu_kernels.h"

#include <cstdlib>
#include <cstring>

namespace iaas::cpu {

namespace dense_generic {
void DenseLayerForward(const float* x, const float* w, const float* bias, float* y, size_t batch, size_t in,
                       size_t out, bool relu);
}
#if defined(IAAS_HAVE_AVX2_KERNELS)
namespace dense_avx2 {
void DenseLayerForward(const float* x, const float* w, const float* bias, float* y, size_t batch, size_t in,
                       size_t out, bool relu);
}
#endif

namespace {

using DenseFn = void (*)(const float*, const float*, const float*, float*, size_t, size_t, size_t, bool);

struct DenseDispatch {
  DenseFn fn;
  const char* isa;
};

DenseDispatch SelectDense() {
  const char* forced = std::getenv("IAAS_CPU_ISA");
  const bool forceGeneric = forced != nullptr && std::strcmp(forced, "generic") == 0;
#if defined(IAAS_HAVE_AVX2_KERNELS)
  if (!forceGeneric && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return {&dense_avx2::DenseLayerForward, "avx2+fma"};
  }
#else
  (void)forceGeneric;
#endif
  return {&dense_generic::DenseLayerForward, "generic"};
}

const DenseDispatch& Dense() {
  static const DenseDispatch dispatch = SelectDense();
  return dispatch;
}

}  // namespace

void AddSubI32(const uint8_t* a, const uint8_t* b, uint8_t* sum, uint8_t* diff, size_t count) {
  // Unsigned arithmetic wraps by definition; signed overflow would be undefined behaviour.
  for (size_t i = 0; i < count; ++i) {
    uint32_t va, vb;
    std::memcpy(&va, a + i * 4, 4);
    std::memcpy(&vb, b + i * 4, 4);
    const uint32_t s = va + vb;
    const uint32_t d = va - vb;
    std::memcpy(sum + i * 4, &s, 4);
    std::memcpy(diff + i * 4, &d, 4);
  }
}

void DenseLayerForward(const float* x, const float* weights, const float* bias, float* y, size_t batch,
                       size_t inFeatures, size_t outFeatures, bool relu) {
  Dense().fn(x, weights, bias, y, batch, inFeatures, outFeatures, relu);
}

const char* DenseIsaName() { return Dense().isa; }

}  // namespace iaas::cpu
