// A model that stalls on a wall-clock schedule, for testing load generators: FP32 identity whose instance
// holds any request arriving in the first `stall_ms` of every `period_ms` until that stall ends (a GC pause,
// a checkpoint, a noisy neighbour). The wait is a timer, not a busy loop, so the server's event loop keeps
// accepting requests, which queue behind the stalled instance as they would behind a stuck GPU.
// Config parameters: stall_ms (default 100), period_ms (default 500).
import { configError, type Locator } from "../repository/config-decode.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import type { ExecuteRequest, ExecuteTimings } from "../native/types.ts";
import type { ModelInstance } from "../scheduler/model-instance.ts";
import { oneInOneOut, sameShapePlan } from "./check-inputs.ts";
import { cpuInstanceGroups, type JsBackend, type JsBackendModel } from "./js-backend.ts";

const NAME = "stall";

function msParameter(config: ModelConfig, at: Locator, key: string, fallback: number): number {
  const raw = config.parameters[key]?.string_value;
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw configError(at.at(`parameters.${key}`), `backend '${NAME}': ${key} must be a number of milliseconds >= 0, got "${raw}"`);
  return n;
}

/** Milliseconds until the current stall ends, 0 outside a stall. */
export function stallRemainingMs(nowMs: number, stallMs: number, periodMs: number): number {
  const phase = nowMs % periodMs;
  return phase < stallMs ? stallMs - phase : 0;
}

function stallInstance(name: string, stallMs: number, periodMs: number): ModelInstance {
  let closed = false;
  return {
    name,
    async execute(request: ExecuteRequest): Promise<ExecuteTimings> {
      if (closed) throw Object.assign(new Error(`instance '${name}' is closed`), { code: "ERR_IAAS_INSTANCE_CLOSED" });
      const start = process.hrtime.bigint();
      const wait = stallRemainingMs(Date.now(), stallMs, periodMs);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      request.outputs[0]!.set(request.inputs[0]!);
      const end = process.hrtime.bigint();
      return { computeInputNs: 0, computeInferNs: Number(end - start), computeOutputNs: 0, queueNs: 0, startNs: Number(start), endNs: Number(end) };
    },
    close(): Promise<void> {
      closed = true;
      return Promise.resolve();
    },
  };
}

export const stallBackend: JsBackend = {
  name: NAME,
  load(config: ModelConfig, at: Locator): JsBackendModel {
    const { output } = oneInOneOut(config, at, NAME, "TYPE_FP32", "copies");
    const stallMs = msParameter(config, at, "stall_ms", 100);
    const periodMs = msParameter(config, at, "period_ms", 500);
    if (!(periodMs > stallMs)) throw configError(at.at("parameters.period_ms"), `backend '${NAME}': period_ms (${periodMs}) must exceed stall_ms (${stallMs})`);
    cpuInstanceGroups(config, at, NAME);
    return {
      kind: "js",
      plan: sameShapePlan(output.name, "FP32"),
      createInstance: (name: string) => stallInstance(name, stallMs, periodMs),
    };
  },
};
