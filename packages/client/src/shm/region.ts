// A POSIX shared-memory object mapped into this process, for Triton's system_shared_memory extension:
// create (or open) it, register its key with the server, write input tensors into it and read the outputs
// the server wrote, without copying tensor data through the HTTP/gRPC messages.
import { InferenceError, type ErrorCode } from "../errors.ts";
import { elementCount, elementSize, isDataType, type DataType } from "../protocol/datatypes.ts";
import { Tensor } from "../tensor.ts";
import { loadShmAddon, type NativeMapping } from "./addon.ts";

export interface CreateSharedMemoryOptions {
  /**
   * true (default): fail with code "already_exists" when an object of that key exists. false: open an existing
   * object too, and set its size to byteSize.
   */
  exclusive?: boolean;
}

export interface ReadTensorOptions {
  /** Where the registered region starts in this object (the `offset` given at registration); default 0. */
  regionOffset?: number;
}

const ERRNO_CODES: Record<string, ErrorCode> = {
  ENOENT: "not_found",
  EEXIST: "already_exists",
  EACCES: "permission_denied",
  EPERM: "permission_denied",
  EINVAL: "invalid_argument",
  ENAMETOOLONG: "invalid_argument",
  ENOSPC: "resource_exhausted",
  ENOMEM: "resource_exhausted",
  EMFILE: "resource_exhausted",
  ENFILE: "resource_exhausted",
};

function nativeError(err: unknown): InferenceError {
  const e = err as Error & { code?: string };
  if (e instanceof TypeError || e instanceof RangeError) return new InferenceError("invalid_argument", e.message, { cause: err });
  return new InferenceError(ERRNO_CODES[e.code ?? ""] ?? "internal", e.message, { cause: err });
}

function invalid(message: string): InferenceError {
  return new InferenceError("invalid_argument", message);
}

function checkOffset(offset: unknown, what: string): number {
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0)
    throw invalid(`${what}: offset must be a non-negative integer, got ${String(offset)}`);
  return offset;
}

export class SharedMemoryRegion {
  /** The shm_open name; register it with the server (registerSystemSharedMemory(name, region.key, region.byteSize)). */
  readonly key: string;
  /** Size of the mapped object in bytes. */
  readonly byteSize: number;
  #mapping: NativeMapping;
  #buffer: Buffer;
  #closed = false;

  /** Use createSharedMemoryRegion or openSharedMemoryRegion. */
  constructor(key: string, mapping: NativeMapping) {
    this.key = key;
    this.byteSize = mapping.byteSize;
    this.#mapping = mapping;
    this.#buffer = Buffer.from(mapping.buffer);
  }

  /** The whole mapping as a Buffer (reads and writes go to the shared object). Throws once closed. */
  get buffer(): Buffer {
    if (this.#closed) throw new InferenceError("failed_precondition", `shared memory region "${this.key}" is closed`);
    return this.#buffer;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #range(offset: number, length: number, what: string): void {
    if (offset + length > this.byteSize)
      throw new InferenceError(
        "out_of_range",
        `${what}: ${length} bytes at offset ${offset} run past the end of shared memory region "${this.key}" (${this.byteSize} bytes)`,
      );
  }

  /**
   * Copies a tensor's wire bytes (little-endian; BYTES with 4-byte length prefixes) or raw bytes to `offset`
   * (default 0). Returns the number of bytes written.
   */
  write(data: Tensor | ArrayBufferView, offset = 0): number {
    const buffer = this.buffer;
    const what = `SharedMemoryRegion("${this.key}").write`;
    checkOffset(offset, what);
    let bytes: Uint8Array;
    if (data instanceof Tensor) bytes = data.toRaw();
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else throw invalid(`${what}: data must be a Tensor or a TypedArray/Buffer`);
    this.#range(offset, bytes.byteLength, what);
    buffer.set(bytes, offset);
    return bytes.byteLength;
  }

  /**
   * A tensor of `datatype` and `shape` whose bytes start at `offset` (default 0). Numeric data is a view of the
   * mapping when aligned for the element size (no copy: later writes show through), else a copy. The view
   * becomes empty when the region is closed.
   */
  read<T extends DataType>(datatype: T, shape: readonly number[], offset = 0, name = "shared_memory"): Tensor<T> {
    const buffer = this.buffer;
    const what = `SharedMemoryRegion("${this.key}").read`;
    checkOffset(offset, what);
    if (!isDataType(datatype)) throw invalid(`${what}: unknown datatype ${JSON.stringify(datatype)}`);
    let count: number;
    try {
      count = elementCount(shape);
    } catch (e) {
      throw invalid(`${what}: ${(e as Error).message}`);
    }
    let length: number;
    if (datatype === "BYTES") {
      length = 0;
      for (let i = 0; i < count; i++) {
        this.#range(offset + length, 4, `${what}: BYTES element ${i} length prefix`);
        const n = buffer.readUInt32LE(offset + length);
        this.#range(offset + length + 4, n, `${what}: BYTES element ${i}`);
        length += 4 + n;
      }
    } else {
      length = count * elementSize(datatype);
      this.#range(offset, length, what);
    }
    return Tensor.fromRaw(name, datatype, shape, buffer.subarray(offset, offset + length));
  }

  /**
   * Reads an output the server wrote into this object: `tensor` is the data-less output of an InferResult
   * (its `sharedMemory` names the place inside the registered region).
   */
  readTensor<T extends DataType>(tensor: Tensor<T>, options: ReadTensorOptions = {}): Tensor<T> {
    const what = `SharedMemoryRegion("${this.key}").readTensor`;
    const ref = tensor.sharedMemory;
    if (ref === undefined) throw invalid(`${what}: tensor "${tensor.name}" is not in shared memory (it has its data)`);
    const base = checkOffset(options.regionOffset ?? 0, what);
    return this.read(tensor.datatype, tensor.shape, base + ref.offset, tensor.name);
  }

  /** Unmaps the object (views of it become empty); the object itself stays until unlink(). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#mapping.unmap();
  }

  /** Removes the object's name (memory is freed once no process maps it). True when it existed. */
  unlink(): boolean {
    return unlinkSharedMemory(this.key);
  }
}

function checkKey(key: unknown, what: string): string {
  if (typeof key !== "string" || key === "") throw invalid(`${what}: key must be a non-empty string (a shm_open name such as "/input0")`);
  return key;
}

/** Creates a POSIX shared-memory object of `byteSize` bytes (zero-filled) and maps it. */
export function createSharedMemoryRegion(key: string, byteSize: number, options: CreateSharedMemoryOptions = {}): SharedMemoryRegion {
  const what = "createSharedMemoryRegion";
  checkKey(key, what);
  if (typeof byteSize !== "number" || !Number.isSafeInteger(byteSize) || byteSize < 1)
    throw invalid(`${what}: byteSize must be an integer of at least 1, got ${String(byteSize)}`);
  const addon = loadShmAddon();
  try {
    return new SharedMemoryRegion(key, addon.create(key, byteSize, options.exclusive !== false));
  } catch (err) {
    throw nativeError(err);
  }
}

/** Maps an existing POSIX shared-memory object whole (e.g. one another process created). */
export function openSharedMemoryRegion(key: string): SharedMemoryRegion {
  checkKey(key, "openSharedMemoryRegion");
  const addon = loadShmAddon();
  try {
    return new SharedMemoryRegion(key, addon.open(key));
  } catch (err) {
    throw nativeError(err);
  }
}

/** Removes the object named `key`; true when it existed. */
export function unlinkSharedMemory(key: string): boolean {
  checkKey(key, "unlinkSharedMemory");
  const addon = loadShmAddon();
  try {
    return addon.unlink(key);
  } catch (err) {
    throw nativeError(err);
  }
}
