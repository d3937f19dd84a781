// The tensor parameters that put an input or requested output in shared memory (both protocols):
// shared_memory_region (string), shared_memory_byte_size (integer, required), shared_memory_offset
// (integer, default 0). Parsed by the front ends; resolved against the registry by the core.
import { ServerError, invalidArg } from "../core/errors.ts";
import type { Parameters } from "../core/types.ts";
import type { SharedMemoryRef } from "./system-shared-memory.ts";

export const SHM_REGION = "shared_memory_region";
export const SHM_BYTE_SIZE = "shared_memory_byte_size";
export const SHM_OFFSET = "shared_memory_offset";

function size(value: unknown, where: string, key: string): number {
  const n = typeof value === "bigint" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0)
    throw invalidArg(`${where}: parameter '${key}' must be a non-negative integer, got ${JSON.stringify(typeof value === "bigint" ? String(value) : value)}`);
  return n;
}

/** Why the extension is off and how to turn it on, for error messages. */
export const SHM_DISABLED =
  'system shared memory is not enabled on this server (start it with startServer({ sharedMemory: "system" }) or iaas serve --allow-shared-memory)';

/** The error for a tensor naming a region when the extension is off. */
export function sharedMemoryDisabled(where: string): ServerError {
  return new ServerError("UNSUPPORTED", `${where}: shared memory tensors are not supported by this server: ${SHM_DISABLED}`);
}

/**
 * The shared-memory location a tensor's parameters name, or undefined when they name none. With `enabled`
 * false, naming one at all is an UNSUPPORTED error (before its values are checked).
 */
export function sharedMemoryRef(params: Parameters | undefined, where: string, enabled = true): SharedMemoryRef | undefined {
  if (params === undefined) return undefined;
  const region = params[SHM_REGION];
  const byteSize = params[SHM_BYTE_SIZE];
  const offset = params[SHM_OFFSET];
  if (region === undefined && byteSize === undefined && offset === undefined) return undefined;
  if (!enabled) throw sharedMemoryDisabled(where);
  if (typeof region !== "string" || region === "")
    throw invalidArg(`${where}: parameter '${SHM_REGION}' must name a registered shared memory region (a non-empty string)`);
  if (byteSize === undefined) throw invalidArg(`${where}: parameter '${SHM_BYTE_SIZE}' is required with '${SHM_REGION}'`);
  return { region, byteSize: size(byteSize, where, SHM_BYTE_SIZE), offset: offset === undefined ? 0 : size(offset, where, SHM_OFFSET) };
}

/** The parameters a response carries for an output written to shared memory. */
export function sharedMemoryParameters(ref: SharedMemoryRef): Parameters {
  return { [SHM_REGION]: ref.region, [SHM_BYTE_SIZE]: ref.byteSize, [SHM_OFFSET]: ref.offset };
}
