// What a backend is: the piece that knows one native kernel. At load it checks the model config and
// prepares what the kernel needs; per request it turns checked inputs into a native execution
// (output shapes and buffers). Generic tensor checks happen before, in check-inputs.ts.
import type { DataType } from "@iaas/client/protocol";
import type { ExecuteRequest, InstanceOptions, KernelName } from "../native/types.ts";
import type { Locator } from "../repository/config-decode.ts";
import type { ModelConfig, ModelInputConfig } from "../repository/model-config.ts";

/** A request input after the generic checks, in model-config order. */
export interface CheckedInput {
  config: ModelInputConfig;
  datatype: DataType;
  shape: number[];
  data: Buffer;
  /** Number of elements (for BYTES: strings). */
  elements: number;
}

export interface PlannedOutput {
  name: string;
  datatype: DataType;
  shape: number[];
  data: Buffer;
}

export interface ExecutionPlan {
  /** Every output of the model, in config order; the core returns the requested ones. */
  outputs: PlannedOutput[];
  native: ExecuteRequest;
  /**
   * Runs on the main thread after the native execution succeeded and returns the outputs (same names
   * and order as `outputs`), for backends whose results need converting (e.g. INT32 -> decimal strings).
   */
  finish?(): PlannedOutput[];
}

/** A backend bound to one loaded model config. */
export interface BackendModel {
  /** Kernel-specific instance options (e.g. dense_mlp weights), shared by all instances. */
  readonly instanceOptions: Pick<InstanceOptions, "kernel" | "layers">;
  plan(inputs: CheckedInput[], batchSize: number): ExecutionPlan;
}

export interface Backend {
  readonly name: string;
  readonly kernel: KernelName;
  /** Validates the config for this backend (errors name where, via `at`) and prepares the model. */
  load(config: ModelConfig, at: Locator): BackendModel;
}
