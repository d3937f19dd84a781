// Argument checks of the system shared-memory calls and of outputs requested into a region, so bad values
// fail in the client with an "invalid_argument" error naming the argument instead of at the server.
import type { RequestedOutput } from "./api.ts";
import { InferenceError } from "./errors.ts";
import type { SharedMemoryRef } from "./tensor.ts";
import type { SharedMemoryRegisterRequest } from "./transport/transport.ts";

function invalid(message: string): InferenceError {
  return new InferenceError("invalid_argument", message);
}

function size(value: unknown, what: string, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min)
    throw invalid(`${what} must be an integer of at least ${min}, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`);
  return value;
}

function regionName(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") throw invalid(`${what} must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

export function registerRequest(name: unknown, key: unknown, byteSize: unknown, offset: unknown): SharedMemoryRegisterRequest {
  const what = "registerSystemSharedMemory";
  return {
    name: regionName(name, `${what}: region name`),
    key: regionName(key, `${what}: key (the shm_open name, e.g. "/input0")`),
    byteSize: size(byteSize, `${what}: byteSize`, 1),
    offset: size(offset ?? 0, `${what}: offset`, 0),
  };
}

/** `name` for status/unregister: undefined or "" means every region. */
export function optionalRegion(name: unknown, what: string): string | undefined {
  if (name === undefined || name === "") return undefined;
  return regionName(name, `${what}: region name`);
}

/** The region an output was requested into, checked; undefined when it was not. */
export function outputRegion(output: RequestedOutput): SharedMemoryRef | undefined {
  const loc = output.sharedMemory;
  if (loc === undefined) return undefined;
  const what = `infer: output "${output.name}" sharedMemory`;
  if (loc === null || typeof loc !== "object") throw invalid(`${what} must be { region, offset?, byteSize }`);
  return {
    region: regionName(loc.region, `${what}.region`),
    offset: size(loc.offset ?? 0, `${what}.offset`, 0),
    byteSize: size(loc.byteSize, `${what}.byteSize`, 0),
  };
}
