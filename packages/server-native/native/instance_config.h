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
  // Executions whose inputs total at most this many bytes run on the JS thread while the instance is idle
  // (0: never). Only CPU copy and add_sub_i32 instances take it.
  size_t inlineMaxBytes = 0;
  // CPU cores the instance's thread may run on for its lifetime (empty: wherever the OS schedules it).
  // From the instance group's host policy (Triton's --host-policy=NAME,cpu-cores=LIST).
  std::vector<int> cpuCores;

  size_t DenseInFeatures() const { return layers.front().inFeatures; }
  size_t DenseOutFeatures() const { return layers.back().outFeatures; }
  size_t DenseMaxFeatures() const;
};

}  // namespace iaas
