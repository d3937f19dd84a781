// SystemSharedMemoryStatus / Register / Unregister over gRPC. With the extension disabled they answer
// UNIMPLEMENTED (as the other extensions this server does not serve).
import { ServerError } from "../../core/errors.ts";
import type { InferenceServer } from "../../core/inference-server.ts";
import type { SystemSharedMemory } from "../../shared-memory/system-shared-memory.ts";
import { SHM_DISABLED } from "../../shared-memory/tensor-parameters.ts";

type Rpc = "SystemSharedMemoryStatus" | "SystemSharedMemoryRegister" | "SystemSharedMemoryUnregister";

function registry(server: InferenceServer, rpc: Rpc): SystemSharedMemory {
  const shm = server.systemSharedMemory;
  if (shm === undefined) throw new ServerError("UNSUPPORTED", `${rpc} is not implemented: ${SHM_DISABLED}`);
  return shm;
}

/** uint64 fields arrive as decimal strings (proto-loader longs: String). */
const uint64 = (v: string | number | undefined): number | string => {
  const n = Number(v ?? 0);
  return Number.isSafeInteger(n) ? n : String(v);
};

export function sharedMemoryHandlers<H>(server: InferenceServer, unary: (fn: (request: any) => unknown) => H): Record<Rpc, H> {
  return {
    SystemSharedMemoryStatus: unary((r: { name?: string }) => {
      const regions: Record<string, unknown> = {};
      for (const s of registry(server, "SystemSharedMemoryStatus").status(r.name))
        regions[s.name] = { name: s.name, key: s.key, offset: s.offset, byte_size: s.byte_size };
      return { regions };
    }),
    SystemSharedMemoryRegister: unary((r: { name?: string; key?: string; offset?: string; byte_size?: string }) => {
      registry(server, "SystemSharedMemoryRegister").register(r.name, r.key, uint64(r.offset), uint64(r.byte_size));
      return {};
    }),
    SystemSharedMemoryUnregister: unary((r: { name?: string }) => {
      registry(server, "SystemSharedMemoryUnregister").unregister(r.name);
      return {};
    }),
  };
}
