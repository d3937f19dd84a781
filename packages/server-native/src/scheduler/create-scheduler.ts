// Picks and builds the scheduler of one model version from its config and backend: decoupled models
// get a DecoupledScheduler, sequence-batched models a SequenceBatcher, models with dynamic_batching the
// DynamicBatchScheduler, all others the FIFO scheduler;
// instances are native (instances.ts) or TypeScript ones made by the backend.
import { isDecoupledModel, isJsModel, instanceCount, type AnyBackendModel } from "../backends/js-backend.ts";
import type { NativeAddon } from "../native/types.ts";
import { configError, type Locator } from "../repository/config-decode.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import { DecoupledScheduler } from "./decoupled-scheduler.ts";
import { DynamicBatchScheduler } from "./dynamic-batch-scheduler.ts";
import type { HostPolicies } from "./host-policy.ts";
import { createInstances } from "./instances.ts";
import type { ModelInstance } from "./model-instance.ts";
import { NativeModelInstance } from "./native-model-instance.ts";
import { FifoScheduler, type Scheduler } from "./scheduler.ts";
import { SequenceBatcher } from "./sequence-batcher.ts";
import { weightsMemoryUsage } from "../stats/memory-usage.ts";
import type { MemoryUsage } from "../stats/model-stats.ts";

/** Load-time checks that depend on both the config and the kind of backend. */
export function checkBackendKind(config: ModelConfig, at: Locator, backend: AnyBackendModel): void {
  const decoupled = isDecoupledModel(backend);
  if (config.model_transaction_policy.decoupled && !decoupled)
    throw configError(at.at("model_transaction_policy.decoupled"), `backend '${config.backend}' answers each request once; it cannot be decoupled`);
  if (decoupled && config.sequence_batching !== undefined)
    throw configError(at.at("sequence_batching"), `decoupled models cannot use sequence batching in iaas`);
  if (decoupled && config.dynamic_batching !== undefined)
    throw configError(at.at("dynamic_batching"), `decoupled models run without an instance queue in iaas; remove dynamic_batching`);
  // Native kernels take exactly the model inputs; only TypeScript backends read control tensors.
  const controls = config.sequence_batching?.control_input ?? [];
  if (controls.length > 0 && !isJsModel(backend))
    throw configError(
      at.at("sequence_batching.control_input"),
      `backend '${config.backend}' does not read sequence control tensors; remove control_input (sequence batching still routes each sequence to one instance)`,
    );
}

/** Where one instance of a model version runs (InferenceServer.modelInstances). */
export interface InstancePlacement {
  name: string;
  /** "CPU" or "GPU", as Triton's memory_usage types. */
  device: "CPU" | "GPU";
  /** CUDA ordinal for GPU instances, 0 for CPU. */
  device_id: number;
}

/** The scheduler of one model version, with the memory its instances hold (statistics' memory_usage). */
export async function createScheduler(
  addon: NativeAddon,
  config: ModelConfig,
  at: Locator,
  backend: AnyBackendModel,
  hostPolicies: HostPolicies = {},
): Promise<{ scheduler: Scheduler; memoryUsage: MemoryUsage[]; placements: InstancePlacement[] }> {
  const pinned = config.instance_group.findIndex((g) => g.host_policy !== "");
  if (pinned >= 0 && (isJsModel(backend) || isDecoupledModel(backend)))
    throw configError(
      at.at(`instance_group[${pinned}].host_policy`),
      `backend '${config.backend}' runs on the server's JS thread, which a host policy cannot bind; host_policy needs a native backend`,
    );
  if (isDecoupledModel(backend))
    return { scheduler: new DecoupledScheduler(config.name, backend, instanceCount(config)), memoryUsage: [], placements: [] };
  let instances: ModelInstance[];
  let memoryUsage: MemoryUsage[] = [];
  let placements: InstancePlacement[];
  if (isJsModel(backend)) {
    instances = [];
    for (const g of config.instance_group) for (let i = 0; i < g.count; i++) instances.push(backend.createInstance(`${g.name}_${i}`));
    placements = instances.map((i) => ({ name: i.name, device: "CPU", device_id: 0 }));
  } else {
    const native = await createInstances(addon, config, at, backend.instanceOptions, hostPolicies);
    memoryUsage = weightsMemoryUsage(native, backend.instanceOptions);
    instances = native.map((n) => new NativeModelInstance(n));
    placements = native.map((i) => ({ name: i.name, device: i.device === "cuda" ? "GPU" : "CPU", device_id: i.deviceId }));
  }
  const scheduler =
    config.sequence_batching !== undefined
      ? new SequenceBatcher(config, instances)
      : config.dynamic_batching !== undefined
        ? new DynamicBatchScheduler(config, instances, !isJsModel(backend))
        : new FifoScheduler(config.name, instances);
  return { scheduler, memoryUsage, placements };
}
