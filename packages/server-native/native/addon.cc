// Module entry: exports backendInfo(), createInstance(options) and mapSharedMemory(key, offset, byteSize). See src/native/types.ts for the contract.
#include <napi.h>

#include "backend_info.h"
#include "native_instance.h"
#include "shared_memory.h"

namespace iaas {
namespace {

// Per-environment state, so the addon also works when loaded in worker threads.
struct AddonData {
  Napi::FunctionReference instanceClass;
};

Napi::Value CreateInstance(const Napi::CallbackInfo& info) {
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  return data->instanceClass.New({info[0]});
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->instanceClass = Napi::Persistent(NativeInstance::DefineClass(env));
  env.SetInstanceData<AddonData>(data);
  exports.Set("backendInfo", Napi::Function::New<BackendInfo>(env, "backendInfo"));
  exports.Set("createInstance", Napi::Function::New<CreateInstance>(env, "createInstance"));
  exports.Set("mapSharedMemory", Napi::Function::New<MapSharedMemory>(env, "mapSharedMemory"));
  return exports;
}

}  // namespace
}  // namespace iaas

static Napi::Object InitIaasNative(Napi::Env env, Napi::Object exports) { return iaas::Init(env, exports); }

NODE_API_MODULE(iaas_native, InitIaasNative)
