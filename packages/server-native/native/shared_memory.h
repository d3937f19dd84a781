// POSIX shared memory for the system_shared_memory extension: mapSharedMemory(key, offset, byteSize).
// See src/native/types.ts (SharedMemoryMapping) for the contract.
#pragma once

#include <napi.h>

namespace iaas {

Napi::Value MapSharedMemory(const Napi::CallbackInfo& info);

}  // namespace iaas
