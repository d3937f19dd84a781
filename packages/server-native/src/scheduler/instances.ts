// Turns a config's instance_group list into native instances: KIND_CPU -> cpu threads, KIND_GPU ->
// one set per listed (or every) GPU, KIND_AUTO -> GPU when CUDA is available, else cpu; KIND_MODEL (the
// model picks its device) -> as KIND_AUTO for native kernels, which run wherever CUDA is usable.
// Each native instance binds its device on its own thread for its lifetime (cudaSetDevice in the CUDA
// executor's Init).
import { ServerError } from "../core/errors.ts";
import type { BackendInfo, InstanceOptions, NativeAddon, NativeInstance } from "../native/types.ts";
import type { Locator } from "../repository/config-decode.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import { groupCpuCores, type HostPolicies } from "./host-policy.ts";
import { configuredInlineMaxBytes, instanceInlineMaxBytes } from "./inline-execution.ts";

interface PlannedInstance {
  name: string;
  device: "cpu" | "cuda";
  deviceId: number;
  /** Cores the instance thread is bound to (its group's host policy); [] = unbound. */
  cpuCores: number[];
}

function planInstances(config: ModelConfig, info: BackendInfo, at: Locator, policies: HostPolicies): PlannedInstance[] {
  const cuda = info.available.includes("cuda");
  const planned: PlannedInstance[] = [];
  config.instance_group.forEach((group, g) => {
    const where = at.at(`instance_group[${g}]`);
    const useGpu = group.kind === "KIND_GPU" || ((group.kind === "KIND_AUTO" || group.kind === "KIND_MODEL") && cuda);
    let cpuCores: number[];
    try {
      cpuCores = groupCpuCores(policies, group.host_policy, `${where}.host_policy`);
    } catch (err) {
      throw new ServerError("INVALID_ARG", `${(err as Error).message} (model '${config.name}')`);
    }
    if (!useGpu) {
      for (let i = 0; i < group.count; i++) planned.push({ name: `${group.name}_${i}`, device: "cpu", deviceId: 0, cpuCores });
      return;
    }
    if (!cuda)
      throw new ServerError(
        "INVALID_ARG",
        `${where}: instance group '${group.name}' of model '${config.name}' is KIND_GPU but CUDA is not available (${info.cudaUnavailableReason ?? "no usable GPU"}); use KIND_CPU or KIND_AUTO`,
      );
    const known = info.gpus.map((gpu) => gpu.id);
    const gpus = group.gpus.length > 0 ? group.gpus : known;
    for (const id of gpus) {
      if (!known.includes(id))
        throw new ServerError(
          "INVALID_ARG",
          `${where}: instance group '${group.name}' of model '${config.name}' lists GPU ${id}, but the GPUs present are [${known.join(", ")}]`,
        );
      for (let i = 0; i < group.count; i++) planned.push({ name: `${group.name}_${i}_gpu${id}`, device: "cuda", deviceId: id, cpuCores });
    }
  });
  return planned;
}

/** Creates every instance of the model; on failure closes the ones already created. */
export async function createInstances(
  addon: NativeAddon,
  config: ModelConfig,
  at: Locator,
  options: Pick<InstanceOptions, "kernel" | "layers">,
  policies: HostPolicies = {},
): Promise<NativeInstance[]> {
  const planned = planInstances(config, addon.backendInfo(), at, policies);
  const inlineLimit = configuredInlineMaxBytes(config, at);
  const created: NativeInstance[] = [];
  try {
    for (const p of planned) {
      const inlineMaxBytes = instanceInlineMaxBytes(inlineLimit, options.kernel, p.device);
      created.push(
        addon.createInstance({
          ...options,
          name: p.name,
          device: p.device,
          deviceId: p.deviceId,
          inlineMaxBytes,
          ...(p.cpuCores.length > 0 && { cpuCores: p.cpuCores }),
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled(created.map((i) => i.close()));
    throw new ServerError("INTERNAL", `model '${config.name}': creating native instance ${created.length} failed: ${(err as Error).message}`, { cause: err });
  }
  return created;
}
