#include "parse_request.h"

#include <cmath>
#include <cstdint>

namespace iaas {
namespace {

// Upper bound on batch * widest layer so scratch sizes cannot overflow or explode.
constexpr double kMaxBatchElements = 1ull << 31;

struct View {
  uint8_t* data;
  size_t size;
  // Set when the tensor was given as an array of buffers (data is then null, size their total).
  std::vector<View> parts;
};

std::string Field(const char* key, uint32_t index) {
  return std::string("request.") + key + "[" + std::to_string(index) + "]";
}

// Field names are only formatted on the error path: this runs for every request.
View GetView(Napi::Env env, const std::string& prefix, Napi::Value v, const char* key, uint32_t index) {
  if (!v.IsTypedArray()) {
    throw Napi::TypeError::New(env, prefix + Field(key, index) + " must be a Uint8Array or Buffer (any TypedArray view is accepted)");
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr), View{});
  size_t elementSize = 1;
  switch (type) {
    case napi_int16_array:
    case napi_uint16_array: elementSize = 2; break;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: elementSize = 4; break;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: elementSize = 8; break;
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: elementSize = 1; break;
    default:
      throw Napi::TypeError::New(env, prefix + Field(key, index) + " is a TypedArray of an unsupported element type; pass a Uint8Array view");
  }
  return View{static_cast<uint8_t*>(data), length * elementSize, {}};
}

// One tensor: a TypedArray, or an array of TypedArrays whose bytes are concatenated in order.
View GetTensor(Napi::Env env, const std::string& prefix, Napi::Value v, const char* key, uint32_t index,
               std::vector<napi_value>& keep) {
  if (!v.IsArray()) {
    View view = GetView(env, prefix, v, key, index);
    keep.push_back(v);
    return view;
  }
  Napi::Array parts = v.As<Napi::Array>();
  if (parts.Length() == 0) {
    throw Napi::TypeError::New(env, prefix + Field(key, index) + " is an empty array; give a buffer or a non-empty array of buffers");
  }
  View joined{nullptr, 0, {}};
  const uint32_t count = parts.Length();
  joined.parts.reserve(count);
  for (uint32_t p = 0; p < count; ++p) {
    Napi::Value part = parts.Get(p);
    View view = GetView(env, prefix + Field(key, index) + " part " + std::to_string(p) + ": ", part, key, index);
    joined.size += view.size;
    joined.parts.push_back(view);
    keep.push_back(part);
  }
  return joined;
}

std::vector<View> GetViews(Napi::Env env, const std::string& prefix, Napi::Object request, const char* key,
                           std::vector<napi_value>& keep) {
  Napi::Value list = request.Get(key);
  if (!list.IsArray()) throw Napi::TypeError::New(env, prefix + "request." + key + " must be an array of Uint8Array");
  Napi::Array array = list.As<Napi::Array>();
  const uint32_t length = array.Length();  // one Node-API call, not one per iteration
  std::vector<View> views;
  views.reserve(length);
  for (uint32_t i = 0; i < length; ++i) {
    views.push_back(GetTensor(env, prefix, array.Get(i), key, i, keep));
  }
  return views;
}

[[noreturn]] void ThrowRange(Napi::Env env, const std::string& prefix, const std::string& message) {
  throw Napi::RangeError::New(env, prefix + message);
}

void ExpectCounts(Napi::Env env, const std::string& prefix, const char* kernel, const std::vector<View>& inputs,
                  size_t wantInputs, const std::vector<View>& outputs, size_t wantOutputs) {
  if (inputs.size() != wantInputs || outputs.size() != wantOutputs) {
    ThrowRange(env, prefix, std::string("kernel \"") + kernel + "\" takes " + std::to_string(wantInputs) + " input(s) and " +
                                std::to_string(wantOutputs) + " output(s); got " + std::to_string(inputs.size()) +
                                " and " + std::to_string(outputs.size()));
  }
}

[[noreturn]] void ThrowBytes(Napi::Env env, const std::string& prefix, const std::string& field, size_t got,
                             size_t want, const std::string& why) {
  ThrowRange(env, prefix, field + " is " + std::to_string(got) + " bytes; expected " + std::to_string(want) + " (" + why + ")");
}

bool OverlapPlain(const View& a, const View& b) {
  if (a.size == 0 || b.size == 0) return false;
  return a.data < b.data + b.size && b.data < a.data + a.size;
}

bool Overlap(const View& a, const View& b) {
  if (!a.parts.empty()) {
    for (const View& p : a.parts)
      if (Overlap(p, b)) return true;
    return false;
  }
  if (!b.parts.empty()) {
    for (const View& p : b.parts)
      if (OverlapPlain(a, p)) return true;
    return false;
  }
  return OverlapPlain(a, b);
}

void RejectOverlaps(Napi::Env env, const std::string& prefix, const std::vector<View>& inputs,
                    const std::vector<View>& outputs) {
  for (size_t o = 0; o < outputs.size(); ++o) {
    const std::vector<View>& parts = outputs[o].parts;
    for (size_t a = 1; a < parts.size(); ++a) {
      for (size_t b = 0; b < a; ++b) {
        if (OverlapPlain(parts[a], parts[b])) {
          ThrowRange(env, prefix, "request.outputs[" + std::to_string(o) + "] part " + std::to_string(a) + " overlaps part " +
                                      std::to_string(b) + "; outputs must be separate memory");
        }
      }
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (Overlap(outputs[o], inputs[i])) {
        ThrowRange(env, prefix, "request.outputs[" + std::to_string(o) + "] overlaps request.inputs[" + std::to_string(i) +
                                    "]; outputs must be separate memory");
      }
    }
    for (size_t p = 0; p < o; ++p) {
      if (Overlap(outputs[o], outputs[p])) {
        ThrowRange(env, prefix, "request.outputs[" + std::to_string(o) + "] overlaps request.outputs[" + std::to_string(p) +
                                    "]; outputs must be separate memory");
      }
    }
  }
}

size_t ParseBatch(Napi::Env env, const std::string& prefix, Napi::Value v, size_t widest) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, prefix + "request.batch must be a positive integer for kernel \"dense_mlp\"");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 1) || d != std::floor(d) || d * static_cast<double>(widest) > kMaxBatchElements) {
    ThrowRange(env, prefix, "request.batch must be an integer from 1 to " +
                                std::to_string(static_cast<unsigned long long>(kMaxBatchElements) / widest) + " (got " +
                                v.ToString().Utf8Value() + ")");
  }
  return static_cast<size_t>(d);
}

}  // namespace

ParsedRequest ParseExecuteRequest(Napi::Env env, const InstanceConfig& config, const std::string& prefix,
                                  Napi::Value value) {
  if (!value.IsObject() || value.IsArray()) {
    throw Napi::TypeError::New(env, prefix + "request must be an object { inputs, outputs, batch? }");
  }
  Napi::Object request = value.As<Napi::Object>();
  ParsedRequest parsed;
  parsed.views.reserve(4);
  const std::vector<View> inputs = GetViews(env, prefix, request, "inputs", parsed.views);
  const std::vector<View> outputs = GetViews(env, prefix, request, "outputs", parsed.views);

  switch (config.kernel) {
    case KernelKind::kAddSubI32: {
      ExpectCounts(env, prefix, "add_sub_i32", inputs, 2, outputs, 2);
      const size_t bytes = inputs[0].size;
      if (bytes % 4 != 0) ThrowRange(env, prefix, "request.inputs[0] is " + std::to_string(bytes) + " bytes, not a whole number of INT32 elements");
      if (inputs[1].size != bytes) ThrowBytes(env, prefix, "request.inputs[1]", inputs[1].size, bytes, "same length as inputs[0]");
      if (outputs[0].size != bytes) ThrowBytes(env, prefix, "request.outputs[0]", outputs[0].size, bytes, "same length as the inputs");
      if (outputs[1].size != bytes) ThrowBytes(env, prefix, "request.outputs[1]", outputs[1].size, bytes, "same length as the inputs");
      break;
    }
    case KernelKind::kCopy: {
      if (inputs.empty() || inputs.size() != outputs.size()) {
        ThrowRange(env, prefix, "kernel \"copy\" takes one output per input and at least one input; got " +
                                    std::to_string(inputs.size()) + " input(s) and " + std::to_string(outputs.size()) + " output(s)");
      }
      for (size_t i = 0; i < inputs.size(); ++i) {
        if (outputs[i].size == inputs[i].size) continue;
        ThrowBytes(env, prefix, "request.outputs[" + std::to_string(i) + "]", outputs[i].size, inputs[i].size,
                    "same length as inputs[" + std::to_string(i) + "]");
      }
      break;
    }
    case KernelKind::kDenseMlp: {
      ExpectCounts(env, prefix, "dense_mlp", inputs, 1, outputs, 1);
      const size_t batch = ParseBatch(env, prefix, request.Get("batch"), config.DenseMaxFeatures());
      const size_t in = config.DenseInFeatures();
      const size_t out = config.DenseOutFeatures();
      if (inputs[0].size != batch * in * 4) {
        ThrowBytes(env, prefix, "request.inputs[0]", inputs[0].size, batch * in * 4,
                    "FP32 [batch=" + std::to_string(batch) + ", " + std::to_string(in) + "]");
      }
      if (outputs[0].size != batch * out * 4) {
        ThrowBytes(env, prefix, "request.outputs[0]", outputs[0].size, batch * out * 4,
                    "FP32 [batch=" + std::to_string(batch) + ", " + std::to_string(out) + "]");
      }
      parsed.buffers.batch = batch;
      break;
    }
  }
  RejectOverlaps(env, prefix, inputs, outputs);

  parsed.buffers.inputs.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const View& v = inputs[i];
    parsed.buffers.inputs.push_back(ConstSpan{v.data, v.size});
    if (v.parts.empty()) continue;
    SegmentedInput seg{i, {}};
    seg.parts.reserve(v.parts.size());
    for (const View& p : v.parts) seg.parts.push_back(ConstSpan{p.data, p.size});
    parsed.buffers.gather.push_back(std::move(seg));
  }
  parsed.buffers.outputs.reserve(outputs.size());
  for (size_t o = 0; o < outputs.size(); ++o) {
    const View& v = outputs[o];
    parsed.buffers.outputs.push_back(MutableSpan{v.data, v.size});
    if (v.parts.empty()) continue;
    SegmentedOutput seg{o, {}};
    seg.parts.reserve(v.parts.size());
    for (const View& p : v.parts) seg.parts.push_back(MutableSpan{p.data, p.size});
    parsed.buffers.scatter.push_back(std::move(seg));
  }
  return parsed;
}

}  // namespace iaas
