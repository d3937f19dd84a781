// Portable variant of the dense kernel (SSE2 on x86-64, NEON or scalar elsewhere).
#define IAAS_DENSE_NS dense_generic
#include "dense_cpu_impl.h"
