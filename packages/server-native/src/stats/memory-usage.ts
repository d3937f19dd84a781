// Triton's memory_usage statistic for one model version: the model weights its native instances hold,
// per device. Each instance gets its own copy at creation (host memory for cpu instances, device memory
// for cuda ones), so the figure is weights x instances on each device.
import type { InstanceOptions, NativeInstance } from "../native/types.ts";
import type { MemoryUsage } from "./model-stats.ts";

export function weightsMemoryUsage(instances: readonly NativeInstance[], options: Pick<InstanceOptions, "layers">): MemoryUsage[] {
  let perInstance = 0;
  for (const l of options.layers ?? []) perInstance += l.weights.byteLength + l.bias.byteLength;
  if (perInstance === 0) return [];
  const byDevice = new Map<string, MemoryUsage>();
  for (const i of instances) {
    const type = i.device === "cuda" ? "GPU" : "CPU";
    const id = i.device === "cuda" ? i.deviceId : 0;
    const key = `${type}:${id}`;
    const entry = byDevice.get(key) ?? { type, id: BigInt(id), byte_size: 0n };
    entry.byte_size += BigInt(perInstance);
    byDevice.set(key, entry);
  }
  return [...byDevice.values()];
}
