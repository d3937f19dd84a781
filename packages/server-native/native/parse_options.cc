#include "parse_options.h"

#include <cmath>
#include <cstring>
#include <string>

namespace iaas {
namespace {

// Feature counts are kept well inside int range so the CUDA kernels can index with int.
constexpr double kMaxFeatures = 1 << 24;
// Inline executions are meant for small tensors; 16 MiB bounds how long one may hold the JS thread.
constexpr double kMaxInlineBytes = 1 << 24;
// CPU_SETSIZE on glibc: the largest core number a cpu_set_t can hold, plus one.
constexpr int kMaxCpuCore = 1024;

[[noreturn]] void ThrowType(Napi::Env env, const std::string& prefix, const std::string& message) {
  throw Napi::TypeError::New(env, prefix + message);
}

[[noreturn]] void ThrowRange(Napi::Env env, const std::string& prefix, const std::string& message) {
  throw Napi::RangeError::New(env, prefix + message);
}

std::string Describe(Napi::Value v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsString()) return "\"" + v.As<Napi::String>().Utf8Value() + "\"";
  if (v.IsNumber()) return v.ToString().Utf8Value();
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsArray()) return "an array";
  if (v.IsTypedArray()) return "a typed array";
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return "a value of another type";
}

size_t ParseFeatureCount(Napi::Env env, const std::string& prefix, Napi::Value v, const std::string& field) {
  if (!v.IsNumber()) ThrowType(env, prefix, field + " must be a positive integer (got " + Describe(v) + ")");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 1) || d != std::floor(d) || d > kMaxFeatures) {
    ThrowRange(env, prefix, field + " must be an integer from 1 to " + std::to_string(static_cast<long>(kMaxFeatures)) +
                                " (got " + Describe(v) + ")");
  }
  return static_cast<size_t>(d);
}

std::vector<float> CopyFloat32Array(Napi::Env env, const std::string& prefix, Napi::Value v, const std::string& field,
                                    size_t expected, const std::string& expectedText) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    ThrowType(env, prefix, field + " must be a Float32Array (got " + Describe(v) + ")");
  }
  Napi::Float32Array array = v.As<Napi::Float32Array>();
  if (array.ElementLength() != expected) {
    ThrowRange(env, prefix, field + " has " + std::to_string(array.ElementLength()) + " elements; expected " +
                                expectedText);
  }
  std::vector<float> copy(expected);
  if (expected > 0) std::memcpy(copy.data(), array.Data(), expected * sizeof(float));
  return copy;
}

std::vector<DenseLayer> ParseLayers(Napi::Env env, const std::string& prefix, Napi::Value v) {
  if (!v.IsArray()) ThrowType(env, prefix, "options.layers must be a non-empty array for kernel \"dense_mlp\" (got " + Describe(v) + ")");
  Napi::Array array = v.As<Napi::Array>();
  if (array.Length() == 0) ThrowRange(env, prefix, "options.layers must contain at least one layer");
  std::vector<DenseLayer> layers;
  layers.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const std::string field = "options.layers[" + std::to_string(i) + "]";
    Napi::Value item = array.Get(i);
    if (!item.IsObject()) ThrowType(env, prefix, field + " must be an object (got " + Describe(item) + ")");
    Napi::Object layerObj = item.As<Napi::Object>();
    DenseLayer layer;
    layer.inFeatures = ParseFeatureCount(env, prefix, layerObj.Get("inFeatures"), field + ".inFeatures");
    layer.outFeatures = ParseFeatureCount(env, prefix, layerObj.Get("outFeatures"), field + ".outFeatures");
    if (i > 0 && layer.inFeatures != layers.back().outFeatures) {
      ThrowRange(env, prefix, field + ".inFeatures is " + std::to_string(layer.inFeatures) +
                                  " but options.layers[" + std::to_string(i - 1) + "].outFeatures is " +
                                  std::to_string(layers.back().outFeatures) + "; consecutive layers must chain");
    }
    const double weightCount = static_cast<double>(layer.inFeatures) * static_cast<double>(layer.outFeatures);
    if (weightCount > static_cast<double>(1u << 30)) {
      ThrowRange(env, prefix, field + " has " + std::to_string(static_cast<long long>(weightCount)) +
                                  " weights; at most 2^30 per layer are supported");
    }
    layer.weights = CopyFloat32Array(env, prefix, layerObj.Get("weights"), field + ".weights",
                                     layer.inFeatures * layer.outFeatures,
                                     "outFeatures * inFeatures = " + std::to_string(layer.outFeatures) + " * " +
                                         std::to_string(layer.inFeatures) + " = " +
                                         std::to_string(layer.inFeatures * layer.outFeatures) + " (row-major [out, in])");
    layer.bias = CopyFloat32Array(env, prefix, layerObj.Get("bias"), field + ".bias", layer.outFeatures,
                                  "outFeatures = " + std::to_string(layer.outFeatures));
    layers.push_back(std::move(layer));
  }
  return layers;
}

}  // namespace

InstanceConfig ParseInstanceOptions(Napi::Env env, Napi::Value value) {
  std::string prefix = "createInstance: ";
  if (!value.IsObject() || value.IsArray()) ThrowType(env, prefix, "options must be an object (got " + Describe(value) + ")");
  Napi::Object options = value.As<Napi::Object>();
  InstanceConfig config;

  Napi::Value name = options.Get("name");
  if (!name.IsString() || name.As<Napi::String>().Utf8Value().empty()) {
    ThrowType(env, prefix, "options.name must be a non-empty string (got " + Describe(name) + ")");
  }
  config.name = name.As<Napi::String>().Utf8Value();
  prefix = "createInstance(\"" + config.name + "\"): ";

  Napi::Value kernel = options.Get("kernel");
  const std::string kernelName = kernel.IsString() ? kernel.As<Napi::String>().Utf8Value() : "";
  if (kernelName == "add_sub_i32") {
    config.kernel = KernelKind::kAddSubI32;
  } else if (kernelName == "copy") {
    config.kernel = KernelKind::kCopy;
  } else if (kernelName == "dense_mlp") {
    config.kernel = KernelKind::kDenseMlp;
  } else {
    ThrowType(env, prefix, "options.kernel must be one of \"add_sub_i32\", \"copy\", \"dense_mlp\" (got " + Describe(kernel) + ")");
  }

  Napi::Value device = options.Get("device");
  const std::string deviceName = device.IsString() ? device.As<Napi::String>().Utf8Value() : "";
  if (deviceName == "cpu") {
    config.device = DeviceKind::kCpu;
  } else if (deviceName == "cuda") {
    config.device = DeviceKind::kCuda;
  } else {
    ThrowType(env, prefix, "options.device must be \"cpu\" or \"cuda\" (got " + Describe(device) + ")");
  }

  Napi::Value deviceId = options.Get("deviceId");
  if (!deviceId.IsUndefined()) {
    if (!deviceId.IsNumber()) ThrowType(env, prefix, "options.deviceId must be a non-negative integer (got " + Describe(deviceId) + ")");
    const double d = deviceId.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d != std::floor(d) || d > 1024) {
      ThrowRange(env, prefix, "options.deviceId must be a non-negative integer (got " + Describe(deviceId) + ")");
    }
    config.deviceId = static_cast<int>(d);
  }

  Napi::Value inlineMax = options.Get("inlineMaxBytes");
  if (!inlineMax.IsUndefined()) {
    if (!inlineMax.IsNumber()) ThrowType(env, prefix, "options.inlineMaxBytes must be a non-negative integer (got " + Describe(inlineMax) + ")");
    const double d = inlineMax.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d != std::floor(d) || d > kMaxInlineBytes) {
      ThrowRange(env, prefix, "options.inlineMaxBytes must be an integer from 0 to " + std::to_string(static_cast<long>(kMaxInlineBytes)) +
                                  " (got " + Describe(inlineMax) + ")");
    }
    config.inlineMaxBytes = static_cast<size_t>(d);
    // Inline executions run on the JS thread: only for kernels whose cost is a copy-sized pass over the bytes.
    if (config.inlineMaxBytes > 0 && (config.device != DeviceKind::kCpu || config.kernel == KernelKind::kDenseMlp)) {
      ThrowType(env, prefix, std::string("options.inlineMaxBytes is only taken by cpu instances of the \"copy\" and \"add_sub_i32\" kernels, not ") +
                                 DeviceKindName(config.device) + " \"" + kernelName + "\"");
    }
  }

  Napi::Value cpuCores = options.Get("cpuCores");
  if (!cpuCores.IsUndefined()) {
    if (!cpuCores.IsArray()) ThrowType(env, prefix, "options.cpuCores must be an array of CPU core numbers (got " + Describe(cpuCores) + ")");
    Napi::Array cores = cpuCores.As<Napi::Array>();
    for (uint32_t i = 0; i < cores.Length(); ++i) {
      Napi::Value c = cores.Get(i);
      const double d = c.IsNumber() ? c.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0) || d != std::floor(d) || d >= kMaxCpuCore) {
        ThrowRange(env, prefix, "options.cpuCores[" + std::to_string(i) + "] must be an integer from 0 to " + std::to_string(kMaxCpuCore - 1) +
                                    " (got " + Describe(c) + ")");
      }
      config.cpuCores.push_back(static_cast<int>(d));
    }
  }

  Napi::Value layers = options.Get("layers");
  if (config.kernel == KernelKind::kDenseMlp) {
    config.layers = ParseLayers(env, prefix, layers);
  } else if (!layers.IsUndefined()) {
    ThrowType(env, prefix, "options.layers is only used by kernel \"dense_mlp\", not \"" + kernelName + "\"");
  }
  return config;
}

}  // namespace iaas
