#pragma once

#include <napi.h>

namespace iaas {

// backendInfo(): see src/native/types.ts (BackendInfo).
Napi::Value BackendInfo(const Napi::CallbackInfo& info);

}  // namespace iaas
