// AVX2+FMA variant of the dense kernel; the build compiles this file alone with -mavx2 -mfma, and it is
// only called after a runtime CPU check.
#define IAAS_DENSE_NS dense_avx2
#include "../dense_cpu_impl.h"
