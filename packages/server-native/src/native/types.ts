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
}

/** Phase timings of one execution in nanoseconds (Triton's compute_input / compute_infer / compute_output). */
export interface ExecuteTimings {
  computeInputNs: number;
  computeInferNs: number;
  computeOutputNs: number;
}

/**
 * One execution. Buffers are read/written on the instance's own thread; the caller keeps them alive and
 * untouched until the promise settles (the addon holds references meanwhile).
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

export interface NativeInstance {
  readonly name: string;
  readonly device: DeviceKind;
  readonly deviceId: number;
  execute(request: ExecuteRequest): Promise<ExecuteTimings>;
  /** Finishes queued executions, then stops the thread and frees device memory. */
  close(): Promise<void>;
}

export interface NativeAddon {
  backendInfo(): BackendInfo;
  /** Creates an instance with its own thread (and CUDA stream/buffers for "cuda"). Throws on bad options. */
  createInstance(options: InstanceOptions): NativeInstance;
}
