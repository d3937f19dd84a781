// Triton's memory_usage statistic for one model version: the model weights its native instances hold,
// per device. The CPU instances of a model share one read-only copy of the weights (native
// dense_weights.cc), so host memory counts the weights once however many CPU instances run; every CUDA
// instance copies them into its device's memory, so each device counts weights x its instances.
import type { InstanceOptions, NativeInstance } from "../native/types.ts";
import type { MemoryUsage } from "./model-stats.ts";

export function weightsMemoryUsage(instances: readonly NativeInstance[], options: Pick<InstanceOptions, "layers">): MemoryUsage[] {
  let weights = 0;
  for (const l of options.layers ?? []) weights += l.weights.byteLength + l.bias.byteLength;
  if (weights === 0) return [];
  const byDevice = new Map<string, MemoryUsage>();
  for (const i of instances) {
    const cuda = i.device === "cuda";
    const id = cuda ? i.deviceId : 0;
    const key = `${cuda ? "GPU" : "CPU"}:${id}`;
    const entry = byDevice.get(key);
    if (entry === undefined) byDevice.set(key, { type: cuda ? "GPU" : "CPU", id: BigInt(id), byte_size: BigInt(weights) });
    else if (cuda) entry.byte_size += BigInt(weights);
  }
  return [...byDevice.values()];
}
