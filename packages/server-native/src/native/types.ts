// Contract between the TypeScript server and the native addon (native/ + build/Release/iaas_native.node).
// Validation happens in TypeScript before any native call: the addon trusts sizes it is given
// only as far as re-checking them cheaply (it throws rather than read or write out of bounds).

export type DeviceKind = "cpu" | "cuda";

export interface GpuInfo {
  id: number;
  name: string;
  totalMemoryBytes: number;
  computeCapability: string;
}

/** What the addon was built with and what it can use on this machine right now. */
export interface BackendInfo {
  /** Backends compiled in: always "cpu"; "cuda" when built with nvcc. */
  compiled: DeviceKind[];
  /** Backends usable now: "cuda" only when compiled in and a GPU answers. */
  available: DeviceKind[];
  gpus: GpuInfo[];
  /** Why CUDA is not available (not compiled, no driver, no device), when it is not. */
  cudaUnavailableReason?: string;
  /** e.g. "13.0" when compiled with CUDA. */
  cudaRuntimeVersion?: string;
  /**
   * Instruction set the CPU dense kernel dispatches to on this machine (chosen at run time; the binary is
   * built without -march). IAAS_CPU_ISA=generic in the environment forces the portable variant.
   */
  cpuIsa: "avx2+fma" | "generic";
}

/** Kernels the addon implements. Each instance runs one kernel. */
export type KernelName = "add_sub_i32" | "copy" | "dense_mlp";

export interface InstanceOptions {
  kernel: KernelName;
  device: DeviceKind;
  /** CUDA device ordinal (ignored for cpu). The instance's thread binds to it for its lifetime. */
  deviceId?: number;
  /** Human-readable name for errors and thread names, e.g. "dense_mlp_0". */
  name: string;
  /**
   * dense_mlp only: layer weights, row-major [out, in] per layer, and biases [out] per layer.
   * Hidden layers use ReLU; the last layer is linear. Copied into the instance (and to the GPU) at creation.
   */
  layers?: { inFeatures: number; outFeatures: number; weights: Float32Array; bias: Float32Array }[];
  /**
   * CPU "copy" and "add_sub_i32" instances only (anything but 0 or undefined throws for others): an execution
   * whose inputs total at most this many bytes runs synchronously inside execute(), on the calling (JS)
   * thread, when the instance has nothing queued or running; its promise is already settled when execute()
   * returns. Saves the hand-off to the instance thread and back for tiny kernels. Default 0 (never);
   * at most 16 MiB. Timings keep their meaning (queueNs is the near-zero time from the call to the start).
   */
  inlineMaxBytes?: number;
  /**
   * CPU cores the instance's thread is bound to for its lifetime (Linux; pthread_setaffinity_np before the
   * executor initialises). createInstance throws when the binding fails. Default: unbound.
   */
  cpuCores?: number[];
}

/**
 * Phase timings of one execution in nanoseconds (Triton's compute_input / compute_infer / compute_output).
 * CPU: compute_input/output only stage buffers that are not 4-byte aligned for float access (else ~0).
 * CUDA: host-to-device copies / kernels / device-to-host copies, each timed after a stream synchronize.
 */
export interface ExecuteTimings {
  computeInputNs: number;
  computeInferNs: number;
  computeOutputNs: number;
  /** Time from the execute() call to the start of this job on the instance thread (waiting behind others). */
  queueNs: number;
  /**
   * Start and end of the job on the instance thread, CLOCK_MONOTONIC nanoseconds: the same clock as
   * process.hrtime.bigint(), so Number(process.hrtime.bigint()) can be compared with them.
   */
  startNs: number;
  endNs: number;
}

/**
 * One execution. Buffers are read/written on the instance's own thread (or, for an inline execution, on the
 * calling thread before execute() returns); the caller keeps them alive and untouched until the promise
 * settles (the addon holds references meanwhile). Any TypedArray view is
 * accepted (its byte length counts); alignment is not required. Outputs must not overlap inputs or each other.
 * Invalid requests reject (never throw) with a TypeError/RangeError naming the field; a failed execution
 * rejects with an Error whose code is "ERR_IAAS_EXECUTE_FAILED"; execute after close() rejects with code
 * "ERR_IAAS_INSTANCE_CLOSED".
 * - add_sub_i32: inputs [a, b] INT32 of equal length; outputs [a+b, a-b] of the same byte length.
 * - copy: outputs[i] receives inputs[i] (equal byte lengths).
 * - dense_mlp: inputs [x] FP32 [batch, inFeatures of layer 0]; outputs [y] FP32 [batch, outFeatures of last layer];
 *   `batch` is required.
 */
export interface ExecuteRequest {
  inputs: Uint8Array[];
  outputs: Uint8Array[];
  batch?: number;
}

/**
 * An execution whose tensors may each be an array of buffers (a dynamic batch, one part per request):
 * such a tensor counts as its parts' bytes joined in order. The instance thread gathers input parts into
 * one staging buffer before the kernel runs and scatters the output back into the output parts after it
 * (those copies are timed in compute_input / compute_output); the JS thread copies nothing. Only native
 * instances take it.
 */
export interface BatchedExecuteRequest {
  inputs: (Uint8Array | Uint8Array[])[];
  outputs: (Uint8Array | Uint8Array[])[];
  batch?: number;
}

export interface NativeInstance {
  readonly name: string;
  readonly kernel: KernelName;
  readonly device: DeviceKind;
  /** The CUDA ordinal; 0 for cpu. */
  readonly deviceId: number;
  execute(request: ExecuteRequest | BatchedExecuteRequest): Promise<ExecuteTimings>;
  /**
   * As execute(), except that an execution that runs inline (see InstanceOptions.inlineMaxBytes) and
   * succeeds returns undefined, with its timings written to `timingsOut` (at least 6 elements) in the order
   * computeInputNs, computeInferNs, computeOutputNs, queueNs, startNs, endNs: no promise and no timings
   * object is made in the addon. Every other case returns execute()'s promise. Throws a TypeError when
   * `timingsOut` is not such a Float64Array.
   */
  executeInto(request: ExecuteRequest | BatchedExecuteRequest, timingsOut: Float64Array): Promise<ExecuteTimings> | undefined;
  /** Finishes queued executions, then stops the thread and frees device memory. Idempotent. */
  close(): Promise<void>;
}

/**
 * A mapping of bytes [offset, offset + byteSize) of a POSIX shared-memory object (system_shared_memory).
 * The memory stays mapped until unmap() or until `buffer` is garbage-collected, whichever comes first.
 */
export interface SharedMemoryMapping {
  /** External ArrayBuffer over exactly the requested bytes (reads and writes go to the shared object). */
  readonly buffer: ArrayBuffer;
  /** Size in bytes of the whole shared-memory object when it was mapped. */
  readonly objectSize: number;
  /**
   * Detaches `buffer` (every JS view of it becomes zero-length) and unmaps the memory. Idempotent. The caller
   * must make sure no native execution still uses the memory (its raw pointers are not tracked).
   */
  unmap(): void;
}

export interface NativeAddon {
  backendInfo(): BackendInfo;
  /**
   * Maps part of the POSIX shared-memory object `key` (shm_open name, e.g. "/input0") read-write; any offset
   * (the page-aligned mapping is done inside). Throws an Error whose `code` is the errno name ("ENOENT",
   * "EACCES", ...) when the object cannot be opened or mapped, a RangeError with code "ERR_IAAS_SHM_RANGE"
   * (and `objectSize`) when offset + byteSize exceeds the object, and TypeError/RangeError on bad arguments
   * (byteSize must be at least 1).
   */
  mapSharedMemory(key: string, offset: number, byteSize: number): SharedMemoryMapping;
  /**
   * Creates an instance with its own thread (and CUDA stream/buffers for "cuda"). Throws TypeError/RangeError
   * naming the field on bad options, and Error("... CUDA backend not available: <reason>") for "cuda" when
   * backendInfo().available lacks it. Blocks until the thread has initialised (for CUDA: device context,
   * stream and weight upload), so initialisation failures throw here. An idle instance does not keep the
   * process alive; one with executions or a close() in flight does.
   */
  createInstance(options: InstanceOptions): NativeInstance;
}
