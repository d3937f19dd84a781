// What schedulers dispatch to: a native instance (its own thread, native/types.ts), or an instance of a
// backend computed in TypeScript. Both run one execution at a time.
import type { DataType } from "@iaas/client/protocol";
import type { ExecuteRequest, ExecuteTimings } from "../native/types.ts";

/** A sequence's identity (Triton's correlation id): uint64 or string, never 0 / "". */
export type CorrelationId = bigint | string;

/** The sequence parameters of one request to a sequence-batched model. */
export interface SequenceFlags {
  id: CorrelationId;
  start: boolean;
  end: boolean;
}

/** One sequence-batching control tensor (START, END, READY, CORRID) as the model config declares it. */
export interface ControlTensor {
  name: string;
  datatype: DataType;
  shape: number[];
  data: Buffer;
}

/** What the sequence batcher tells the instance about the request it runs. */
export interface SequenceStep {
  /** The slot of the instance this sequence holds for its lifetime (0 .. slots per instance - 1). */
  slot: number;
  /** The control tensors of the model's control_input list, in that order. */
  controls: readonly ControlTensor[];
}

export interface ModelInstance {
  readonly name: string;
  /**
   * Runs one execution. `step` is given for sequence-batched models; native kernels do not read
   * control tensors (the model config check keeps control_input away from them) and ignore it.
   */
  execute(request: ExecuteRequest, step?: SequenceStep): Promise<ExecuteTimings>;
  close(): Promise<void>;
}
