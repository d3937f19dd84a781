// JS-facing instance object: { name, device, deviceId, kernel, execute(request), close() }.
#pragma once

#include <napi.h>

#include <memory>

#include "instance_config.h"
#include "instance_core.h"

namespace iaas {

class NativeInstance : public Napi::ObjectWrap<NativeInstance> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  explicit NativeInstance(const Napi::CallbackInfo& info);
  ~NativeInstance() override;

 private:
  Napi::Value Execute(const Napi::CallbackInfo& info);
  // execute(request) that, when the execution runs inline and succeeds, writes the timings into info[1]
  // (Float64Array, InstanceCore::WriteTimings order) and returns undefined instead of a promise.
  Napi::Value ExecuteInto(const Napi::CallbackInfo& info);
  Napi::Value Run(const Napi::CallbackInfo& info, double* timingsOut);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetName(const Napi::CallbackInfo& info);
  Napi::Value GetDevice(const Napi::CallbackInfo& info);
  Napi::Value GetDeviceId(const Napi::CallbackInfo& info);
  Napi::Value GetKernel(const Napi::CallbackInfo& info);

  InstanceConfig config_;  // layer shapes only; weights live in the executor
  std::string errorPrefix_;  // "execute(\"<name>\"): "
  std::shared_ptr<InstanceCore> core_;
};

}  // namespace iaas
