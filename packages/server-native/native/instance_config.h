// Plain (Node-API free) description of an instance: what it computes and on which device.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace iaas {

enum class KernelKind { kAddSubI32, kCopy, kDenseMlp };
enum class DeviceKind { kCpu, kCuda };

const char* KernelKindName(KernelKind kind);
const char* DeviceKindName(DeviceKind kind);

struct DenseLayer {
  size_t inFeatures = 0;
  size_t outFeatures = 0;
  std::vector<float> weights;  // row-major [outFeatures, inFeatures]
  std::vector<float> bias;     // [outFeatures]
};

struct InstanceConfig {
  std::string name;
  KernelKind kernel = KernelKind::kCopy;
  DeviceKind device = DeviceKind::kCpu;
  int deviceId = 0;
  std::vector<DenseLayer> layers;  // dense_mlp only

  size_t DenseInFeatures() const { return layers.front().inFeatures; }
  size_t DenseOutFeatures() const { return layers.back().outFeatures; }
  size_t DenseMaxFeatures() const;
};

}  // namespace iaas
