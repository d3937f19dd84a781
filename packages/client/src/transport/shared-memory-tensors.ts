// Tensors in system shared memory on the wire (both protocols): the tensor parameters shared_memory_region,
// shared_memory_byte_size and shared_memory_offset stand in for the data, in requests and responses.
import type { ParameterValue } from "../api.ts";
import type { DataType } from "../protocol/datatypes.ts";
import { Tensor, type SharedMemoryRef } from "../tensor.ts";
import type { OutputRequest } from "./transport.ts";

export const SHM_REGION = "shared_memory_region";
export const SHM_BYTE_SIZE = "shared_memory_byte_size";
export const SHM_OFFSET = "shared_memory_offset";

/** The parameters that name `ref`; offset only when not 0 (as Triton's clients send them). */
export function sharedMemoryParameters(ref: SharedMemoryRef): Record<string, ParameterValue> {
  const params: Record<string, ParameterValue> = { [SHM_REGION]: ref.region, [SHM_BYTE_SIZE]: ref.byteSize };
  if (ref.offset !== 0) params[SHM_OFFSET] = ref.offset;
  return params;
}

/** Outputs the request asked to be written into shared memory, by name; undefined when none. */
export function requestedInSharedMemory(outputs: readonly OutputRequest[] | undefined): Map<string, SharedMemoryRef> | undefined {
  let map: Map<string, SharedMemoryRef> | undefined;
  if (outputs) for (const o of outputs) if (o.sharedMemory) (map ??= new Map()).set(o.name, o.sharedMemory);
  return map;
}

/**
 * The data-less tensor of a response output that lives in shared memory: named so by its parameters
 * (this server) or, as Triton answers without them, by having been requested into a region. Undefined
 * for an output that carries data.
 */
export function sharedMemoryOutput(
  name: string,
  datatype: DataType,
  shape: readonly number[],
  params: Record<string, ParameterValue> | undefined,
  requested: Map<string, SharedMemoryRef> | undefined,
): Tensor | undefined {
  const asked = requested?.get(name);
  const region = params?.[SHM_REGION];
  if (typeof region === "string" && region !== "") {
    const byteSize = Number(params![SHM_BYTE_SIZE] ?? asked?.byteSize ?? 0);
    const offset = Number(params![SHM_OFFSET] ?? asked?.offset ?? 0);
    return Tensor.fromSharedMemory(name, datatype, shape, { region, offset, byteSize });
  }
  if (asked === undefined) return undefined;
  return Tensor.fromSharedMemory(name, datatype, shape, asked);
}
