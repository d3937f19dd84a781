// The system_shared_memory extension's registry: named regions, each a mapping of part of a POSIX
// shared-memory object (made by the native addon). Requests borrow byte ranges of regions through leases.
// Unregistering removes the name at once (it can be registered again right away) but unmaps only once
// the last lease is returned, so a native thread never reads or writes unmapped memory.
import { ServerError, invalidArg } from "../core/errors.ts";
import type { NativeAddon, SharedMemoryMapping } from "../native/types.ts";

/** Where a tensor lives: `byteSize` bytes at `offset` inside registered region `region`. */
export interface SharedMemoryRef {
  region: string;
  offset: number;
  byteSize: number;
}

/** A registered region as the status endpoints report it (Triton's field names). */
export interface SharedMemoryRegionStatus {
  name: string;
  key: string;
  offset: number;
  byte_size: number;
}

/** A borrowed byte range of a region; give it back with release() once no execution uses `view`. */
export interface SharedMemoryLease {
  readonly key: string;
  /** Offset of `view` inside the shared-memory object (region offset + tensor offset). */
  readonly objectOffset: number;
  readonly view: Buffer;
  release(): void;
}

class Region {
  readonly name: string;
  readonly key: string;
  readonly offset: number;
  readonly byteSize: number;
  private readonly mapping: SharedMemoryMapping;
  private leases = 0;
  private retired = false;

  constructor(name: string, key: string, offset: number, byteSize: number, mapping: SharedMemoryMapping) {
    this.name = name;
    this.key = key;
    this.offset = offset;
    this.byteSize = byteSize;
    this.mapping = mapping;
  }

  lease(offset: number, byteSize: number): SharedMemoryLease {
    this.leases++;
    let returned = false;
    return {
      key: this.key,
      objectOffset: this.offset + offset,
      view: Buffer.from(this.mapping.buffer, offset, byteSize),
      release: () => {
        if (returned) return;
        returned = true;
        this.leases--;
        if (this.retired && this.leases === 0) this.mapping.unmap();
      },
    };
  }

  /** Unmaps now, or when the last lease comes back. */
  retire(): void {
    this.retired = true;
    if (this.leases === 0) this.mapping.unmap();
  }

  get inUse(): number {
    return this.leases;
  }
}

function checkSize(value: unknown, what: string, min: number): number {
  const n = typeof value === "bigint" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < min)
    throw invalidArg(`${what} must be an integer of at least ${min}, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`);
  return n;
}

export class SystemSharedMemory {
  private readonly addon: NativeAddon;
  private readonly regions = new Map<string, Region>();

  constructor(addon: NativeAddon) {
    if (typeof addon.mapSharedMemory !== "function")
      throw new Error(
        "the native addon has no mapSharedMemory (it predates system shared memory support); rebuild it with " +
          "node packages/server-native/scripts/build-addon.mjs",
      );
    this.addon = addon;
  }

  /** Maps `byte_size` bytes at `offset` of shared-memory object `key` and registers them as region `name`. */
  register(name: unknown, key: unknown, offset: unknown, byteSize: unknown): void {
    if (typeof name !== "string" || name === "") throw invalidArg(`shared memory region name must be a non-empty string, got ${JSON.stringify(name)}`);
    const what = `failed to register shared memory region '${name}'`;
    if (typeof key !== "string" || key === "") throw invalidArg(`${what}: 'key' must be a non-empty string (the shm_open name, e.g. "/input0")`);
    const off = checkSize(offset ?? 0, `${what}: 'offset'`, 0);
    const size = checkSize(byteSize, `${what}: 'byte_size'`, 1);
    if (this.regions.has(name)) throw new ServerError("ALREADY_EXISTS", `shared memory region '${name}' already in manager`);
    let mapping: SharedMemoryMapping;
    try {
      mapping = this.addon.mapSharedMemory(key, off, size);
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.code === "ENOENT") throw new ServerError("NOT_FOUND", `${what}: ${e.message}`, { cause: err });
      if (e.code === "ERR_IAAS_SHM_RANGE") throw invalidArg(`${what}: ${e.message}`);
      if (typeof e.code === "string" && e.code.startsWith("E")) throw new ServerError("INVALID_ARG", `${what}: ${e.message}`, { cause: err });
      throw new ServerError("INTERNAL", `${what}: ${e.message}`, { cause: err });
    }
    this.regions.set(name, new Region(name, key, off, size, mapping));
  }

  /**
   * Unregisters region `name`, or every region when `name` is undefined or "". An unknown name is not an
   * error (as Triton). Memory still used by requests in flight is unmapped when they finish.
   */
  unregister(name?: string): void {
    if (name === undefined || name === "") {
      for (const r of this.regions.values()) r.retire();
      this.regions.clear();
      return;
    }
    const region = this.regions.get(name);
    if (region === undefined) return;
    this.regions.delete(name);
    region.retire();
  }

  /** Every region (name undefined or ""), or the one named; an unknown name is NOT_FOUND. */
  status(name?: string): SharedMemoryRegionStatus[] {
    const show = (r: Region): SharedMemoryRegionStatus => ({ name: r.name, key: r.key, offset: r.offset, byte_size: r.byteSize });
    if (name === undefined || name === "") return [...this.regions.values()].map(show);
    const region = this.regions.get(name);
    if (region === undefined) throw new ServerError("NOT_FOUND", `Unable to find system shared memory region: '${name}'`);
    return [show(region)];
  }

  /** Borrows the bytes `ref` names; `where` names the tensor in errors. */
  lease(ref: SharedMemoryRef, where: string): SharedMemoryLease {
    const region = this.regions.get(ref.region);
    if (region === undefined) throw new ServerError("NOT_FOUND", `${where}: Unable to find shared memory region: '${ref.region}'`);
    if (ref.offset > region.byteSize || ref.byteSize > region.byteSize - ref.offset)
      throw invalidArg(
        `${where}: Invalid offset + byte size for shared memory region: '${ref.region}' ` +
          `(offset ${ref.offset} + byte_size ${ref.byteSize} exceeds the region's ${region.byteSize} bytes)`,
      );
    return region.lease(ref.offset, ref.byteSize);
  }

  /** Leases currently out on region `name` (0 for an unknown name); for tests and diagnostics. */
  leasesOf(name: string): number {
    return this.regions.get(name)?.inUse ?? 0;
  }

  /** Unregisters everything (the server is closing). */
  close(): void {
    this.unregister();
  }
}
