#include "native_instance.h"

#include <stdexcept>

#include "cpu_executor.h"
#include "parse_options.h"
#include "parse_request.h"
#if defined(IAAS_WITH_CUDA)
#include "cuda_api.h"
#endif

namespace iaas {
namespace {

std::unique_ptr<Executor> MakeExecutor(Napi::Env env, const InstanceConfig& config) {
  if (config.device == DeviceKind::kCpu) return MakeCpuExecutor(config);
#if defined(IAAS_WITH_CUDA)
  try {
    return cuda::MakeCudaExecutor(config);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, "createInstance(\"" + config.name + "\"): " + e.what());
  }
#else
  throw Napi::Error::New(env, "createInstance(\"" + config.name +
                                  "\"): CUDA backend not available: the addon was built without CUDA "
                                  "(no nvcc found at build time, or IAAS_CUDA=0)");
#endif
}

}  // namespace

Napi::Function NativeInstance::DefineClass(Napi::Env env) {
  return ObjectWrap<NativeInstance>::DefineClass(
      env, "NativeInstance",
      {
          InstanceMethod<&NativeInstance::Execute>("execute"),
          InstanceMethod<&NativeInstance::ExecuteInto>("executeInto"),
          InstanceMethod<&NativeInstance::Close>("close"),
          InstanceAccessor<&NativeInstance::GetName>("name", napi_enumerable),
          InstanceAccessor<&NativeInstance::GetDevice>("device", napi_enumerable),
          InstanceAccessor<&NativeInstance::GetDeviceId>("deviceId", napi_enumerable),
          InstanceAccessor<&NativeInstance::GetKernel>("kernel", napi_enumerable),
      });
}

NativeInstance::NativeInstance(const Napi::CallbackInfo& info) : ObjectWrap<NativeInstance>(info) {
  Napi::Env env = info.Env();
  config_ = ParseInstanceOptions(env, info[0]);
  errorPrefix_ = "execute(\"" + config_.name + "\"): ";
  if (config_.device == DeviceKind::kCpu) config_.deviceId = 0;
  std::unique_ptr<Executor> executor = MakeExecutor(env, config_);
  for (DenseLayer& layer : config_.layers) {
    std::vector<float>().swap(layer.weights);
    std::vector<float>().swap(layer.bias);
  }
  core_ = InstanceCore::Start(env, config_.name, std::move(executor), config_.inlineMaxBytes, config_.cpuCores);
}

NativeInstance::~NativeInstance() {
  // Dropped without close(): stop the thread once its queued work is done.
  if (core_) core_->CloseFromFinalizer();
}

Napi::Value NativeInstance::Execute(const Napi::CallbackInfo& info) { return Run(info, nullptr); }

Napi::Value NativeInstance::ExecuteInto(const Napi::CallbackInfo& info) {
  Napi::Value out = info[1];
  if (!out.IsTypedArray() || out.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      out.As<Napi::Float64Array>().ElementLength() < kTimingCount) {
    throw Napi::TypeError::New(info.Env(), errorPrefix_ + "executeInto needs a Float64Array of at least 6 elements for the timings");
  }
  return Run(info, out.As<Napi::Float64Array>().Data());
}

Napi::Value NativeInstance::Run(const Napi::CallbackInfo& info, double* timingsOut) {
  Napi::Env env = info.Env();
  // The promise is only made when one is returned: an inline execution into `timingsOut` needs none.
  napi_deferred deferred = nullptr;
  napi_value promise = nullptr;
  auto makePromise = [&]() {
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_promise(env, &deferred, &promise));
  };

  if (core_->closing()) {
    makePromise();
    Napi::Error error = Napi::Error::New(env, errorPrefix_ + "the instance is closed");
    error.Set("code", Napi::String::New(env, "ERR_IAAS_INSTANCE_CLOSED"));
    napi_reject_deferred(env, deferred, error.Value());
    return Napi::Value(env, promise);
  }

  auto job = std::make_unique<Job>();
  try {
    ParsedRequest parsed = ParseExecuteRequest(env, config_, errorPrefix_, info[0]);
    job->buffers = std::move(parsed.buffers);
    if (config_.inlineMaxBytes > 0) {
      size_t inputBytes = 0;
      for (const ConstSpan& span : job->buffers.inputs) inputBytes += span.size;
      if (core_->CanRunInline(inputBytes)) {
        // Runs right here: the views are only used during this call, so no references are needed.
        core_->RunInline(*job);
        if (job->ok && timingsOut != nullptr) {
          InstanceCore::WriteTimings(*job, timingsOut);
          return env.Undefined();
        }
        makePromise();
        job->deferred = deferred;
        core_->Settle(env, job.get());
        return Napi::Value(env, promise);
      }
    }
    makePromise();
    job->keepAlive.reserve(parsed.views.size());
    for (napi_value view : parsed.views) {
      napi_ref ref;
      NAPI_THROW_IF_FAILED(env, napi_create_reference(env, view, 1, &ref), Napi::Value());
      job->keepAlive.push_back(ref);
    }
  } catch (const Napi::Error& e) {
    for (napi_ref ref : job->keepAlive) napi_delete_reference(env, ref);
    if (deferred == nullptr) makePromise();
    napi_reject_deferred(env, deferred, e.Value());
    return Napi::Value(env, promise);
  }
  job->deferred = deferred;
  core_->Submit(env, std::move(job));
  return Napi::Value(env, promise);
}

Napi::Value NativeInstance::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  napi_deferred deferred;
  napi_value promise;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), Napi::Value());
  core_->Close(env, deferred);
  return Napi::Value(env, promise);
}

Napi::Value NativeInstance::GetName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), config_.name);
}

Napi::Value NativeInstance::GetDevice(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DeviceKindName(config_.device));
}

Napi::Value NativeInstance::GetDeviceId(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), config_.deviceId);
}

Napi::Value NativeInstance::GetKernel(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), KernelKindName(config_.kernel));
}

}  // namespace iaas
