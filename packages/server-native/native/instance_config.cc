#include "instance_config.h"

#include <algorithm>

namespace iaas {

const char* KernelKindName(KernelKind kind) {
  switch (kind) {
    case KernelKind::kAddSubI32: return "add_sub_i32";
    case KernelKind::kCopy: return "copy";
    case KernelKind::kDenseMlp: return "dense_mlp";
  }
  return "unknown";
}

const char* DeviceKindName(DeviceKind kind) {
  return kind == DeviceKind::kCuda ? "cuda" : "cpu";
}

size_t InstanceConfig::DenseMaxFeatures() const {
  size_t widest = 0;
  for (const DenseLayer& layer : layers) widest = std::max({widest, layer.inFeatures, layer.outFeatures});
  return widest;
}

}  // namespace iaas
