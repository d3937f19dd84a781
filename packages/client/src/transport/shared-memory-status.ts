// System shared-memory status answers (HTTP: a JSON array; gRPC: a map of RegionStatus) into the API's
// SystemSharedMemoryStatus list, and the REST paths of the extension.
import type { SystemSharedMemoryStatus } from "../api.ts";
import { InferenceError } from "../errors.ts";

function region(v: unknown, where: string): SystemSharedMemoryStatus {
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new InferenceError("internal", `systemSharedMemoryStatus: ${where} is not an object`);
  const r = v as Record<string, unknown>;
  return { name: String(r.name ?? ""), key: String(r.key ?? ""), offset: Number(r.offset ?? 0), byteSize: Number(r.byte_size ?? 0) };
}

/** HTTP: `[{name, key, offset, byte_size}]`. */
export function statusFromJson(v: unknown): SystemSharedMemoryStatus[] {
  if (!Array.isArray(v)) throw new InferenceError("internal", "systemSharedMemoryStatus: expected a JSON array from the server");
  return v.map((r, i) => region(r, `entry ${i}`));
}

/** gRPC: SystemSharedMemoryStatusResponse.regions, keyed by name (uint64 fields as decimal strings). */
export function statusFromGrpc(regions: Record<string, unknown> | undefined): SystemSharedMemoryStatus[] {
  return Object.entries(regions ?? {}).map(([name, r]) => ({ ...region(r, `region "${name}"`), name }));
}

/** v2/systemsharedmemory[/region/{name}]/{action}. */
export function systemSharedMemoryPath(prefix: string, name: string | undefined, action: "status" | "register" | "unregister"): string {
  const region = name === undefined ? "" : `/region/${encodeURIComponent(name)}`;
  return `${prefix}/v2/systemsharedmemory${region}/${action}`;
}
