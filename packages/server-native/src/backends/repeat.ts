// Triton's "repeat" backend (the repeat_int32 example model), decoupled: for a request with IN (INT32
// [n]), DELAY (UINT32 [n], milliseconds) and WAIT (UINT32 [1], milliseconds) it sends n responses, the
// i-th DELAY[i] ms after the previous one, each with OUT = IN[i] (INT32 [1]) and IDX = i (UINT32 [1]);
// then, WAIT ms later, completes (the final flag). Timers, not a thread: no instance is held while waiting.
import { ServerError, invalidArg } from "../core/errors.ts";
import { configError, type Locator } from "../repository/config-decode.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import type { CheckedInput, PlannedOutput } from "./backend.ts";
import { cpuInstanceGroups, type DecoupledBackendModel, type JsBackend, type Respond } from "./js-backend.ts";

const NAME = "repeat";

const TENSORS = {
  input: [
    { name: "IN", data_type: "TYPE_INT32", dims: [-1] },
    { name: "DELAY", data_type: "TYPE_UINT32", dims: [-1] },
    { name: "WAIT", data_type: "TYPE_UINT32", dims: [1] },
  ],
  output: [
    { name: "OUT", data_type: "TYPE_INT32", dims: [1] },
    { name: "IDX", data_type: "TYPE_UINT32", dims: [1] },
  ],
} as const;

/**
 * Waits `ms`; rejects with CANCELLED as soon as `signal` aborts. A zero delay still yields to the event
 * loop (so a cancellation can arrive between responses) but through setImmediate: setTimeout(0) is
 * clamped to 1 ms, which would cap the model at ~1000 responses/s.
 */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(cancelled(signal));
    if (ms === 0) {
      setImmediate(() => (signal.aborted ? reject(cancelled(signal)) : resolve()));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelled(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function cancelled(signal: AbortSignal): ServerError {
  const why = signal.reason instanceof Error ? `: ${signal.reason.message}` : "";
  return new ServerError("CANCELLED", `request cancelled${why}`);
}

export const repeatBackend: JsBackend = {
  name: NAME,
  load(config: ModelConfig, at: Locator): DecoupledBackendModel {
    if (!config.model_transaction_policy.decoupled)
      throw configError(at.at("model_transaction_policy"), `backend '${NAME}' sends many responses per request: set model_transaction_policy { decoupled: true }`);
    if (config.max_batch_size !== 0) throw configError(at.at("max_batch_size"), `backend '${NAME}' does not batch: max_batch_size must be 0, got ${config.max_batch_size}`);
    if (config.sequence_batching !== undefined) throw configError(at.at("sequence_batching"), `backend '${NAME}' does not support sequence batching`);
    for (const side of ["input", "output"] as const) {
      const want = TENSORS[side];
      const have = config[side];
      if (have.length !== want.length)
        throw configError(at.at(side), `backend '${NAME}' needs ${side}s ${want.map((t) => `${t.name} ${t.data_type} [${t.dims.join(",")}]`).join(", ")}; model '${config.name}' declares ${have.length}`);
      want.forEach((w, i) => {
        const t = have[i]!;
        if (t.name !== w.name || t.data_type !== w.data_type || t.dims.length !== 1 || t.dims[0] !== w.dims[0])
          throw configError(
            at.at(`${side}[${i}]`),
            `backend '${NAME}' needs ${side} ${i} to be ${w.name} ${w.data_type} [${w.dims.join(",")}], got ${t.name} ${t.data_type} [${t.dims.join(",")}]`,
          );
      });
    }
    cpuInstanceGroups(config, at, NAME);

    return {
      kind: "decoupled",
      async run(inputs: CheckedInput[], _batchSize: number, respond: Respond, signal: AbortSignal): Promise<void> {
        const [values, delays, wait] = inputs as [CheckedInput, CheckedInput, CheckedInput];
        if (delays.elements !== values.elements)
          throw invalidArg(`model '${config.name}': DELAY has ${delays.elements} elements but IN has ${values.elements}; give one delay (ms) per IN element`);
        const inView = new DataView(values.data.buffer, values.data.byteOffset, values.data.byteLength);
        const delayView = new DataView(delays.data.buffer, delays.data.byteOffset, delays.data.byteLength);
        for (let i = 0; i < values.elements; i++) {
          await sleep(delayView.getUint32(i * 4, true), signal);
          const out = Buffer.allocUnsafe(4);
          out.writeInt32LE(inView.getInt32(i * 4, true));
          const idx = Buffer.allocUnsafe(4);
          idx.writeUInt32LE(i);
          const outputs: PlannedOutput[] = [
            { name: "OUT", datatype: "INT32", shape: [1], data: out },
            { name: "IDX", datatype: "UINT32", shape: [1], data: idx },
          ];
          respond(outputs);
        }
        await sleep(wait.data.readUInt32LE(0), signal);
      },
    };
  },
};
