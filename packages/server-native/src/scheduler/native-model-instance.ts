// A native instance as schedulers see it. Executions go through executeInto, so one that runs inline
// (native/instance_core.h: tiny CPU kernels on an idle instance) comes back as numbers in a reused
// Float64Array and is answered with a promise made here: building the timings object and the promise in
// C++ through Node-API cost about as much as the kernel's whole inline execution. The name is read once
// (the addon's accessor makes a new string on every read).
import type { BatchedExecuteRequest, ExecuteRequest, ExecuteTimings, NativeInstance } from "../native/types.ts";
import type { ModelInstance } from "./model-instance.ts";

export class NativeModelInstance implements ModelInstance {
  readonly name: string;
  readonly native: NativeInstance;
  private readonly timings = new Float64Array(6);

  constructor(native: NativeInstance) {
    this.native = native;
    this.name = native.name;
  }

  execute(request: ExecuteRequest | BatchedExecuteRequest): Promise<ExecuteTimings> {
    const pending = this.native.executeInto(request, this.timings);
    if (pending !== undefined) return pending;
    const t = this.timings;
    return Promise.resolve({ computeInputNs: t[0]!, computeInferNs: t[1]!, computeOutputNs: t[2]!, queueNs: t[3]!, startNs: t[4]!, endNs: t[5]! });
  }

  close(): Promise<void> {
    return this.native.close();
  }
}
