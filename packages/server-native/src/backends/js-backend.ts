// Backends computed in TypeScript on the main thread instead of a native kernel: models whose work is
// state or timing rather than arithmetic (a sequence accumulator, a decoupled model that answers over
// time). Two shapes:
// - "js": plans like a native backend (output buffers, an ExecuteRequest); its instances are TS objects
//   that the same schedulers dispatch to, so instance_group, sequence slots and statistics work as usual.
// - "decoupled": one request yields any number of responses over time (model_transaction_policy
//   decoupled); it runs through the gRPC stream path only and holds no instance while it waits.
import { ServerError } from "../core/errors.ts";
import type { ExecuteRequest, ExecuteTimings } from "../native/types.ts";
import { configError, type Locator } from "../repository/config-decode.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import type { ModelInstance, SequenceStep } from "../scheduler/model-instance.ts";
import type { BackendModel, CheckedInput, ExecutionPlan, PlannedOutput } from "./backend.ts";

export interface JsBackendModel {
  readonly kind: "js";
  plan(inputs: CheckedInput[], batchSize: number): ExecutionPlan;
  /** Creates one instance; the scheduler makes one per planned instance of the instance groups. */
  createInstance(name: string): ModelInstance;
}

/** Emits one response of a decoupled request (every output of the model, in config order). */
export type Respond = (outputs: PlannedOutput[]) => void;

export interface DecoupledBackendModel {
  readonly kind: "decoupled";
  /**
   * Runs one request: calls `respond` once per response, then resolves (the final flag). Rejects with a
   * ServerError on bad input, and with status CANCELLED (sending nothing more) once `signal` aborts.
   */
  run(inputs: CheckedInput[], batchSize: number, respond: Respond, signal: AbortSignal): Promise<void>;
}

export interface JsBackend {
  readonly name: string;
  /** Validates the config for this backend (errors name where, via `at`) and prepares the model. */
  load(config: ModelConfig, at: Locator): JsBackendModel | DecoupledBackendModel;
}

export type AnyBackendModel = BackendModel | JsBackendModel | DecoupledBackendModel;

export const isJsModel = (m: AnyBackendModel): m is JsBackendModel => "kind" in m && m.kind === "js";
export const isDecoupledModel = (m: AnyBackendModel): m is DecoupledBackendModel => "kind" in m && m.kind === "decoupled";

/**
 * TypeScript backends run on the CPU: KIND_AUTO becomes KIND_CPU (so the config endpoint reports what
 * runs), KIND_GPU is an error.
 */
export function cpuInstanceGroups(config: ModelConfig, at: Locator, backend: string): void {
  config.instance_group.forEach((g, i) => {
    if (g.kind === "KIND_GPU")
      throw configError(at.at(`instance_group[${i}].kind`), `backend '${backend}' runs in TypeScript on the CPU; instance group '${g.name}' must be KIND_CPU or KIND_AUTO`);
    g.kind = "KIND_CPU";
  });
}

/** Number of instances the instance groups ask for (TypeScript backends: all on the CPU). */
export const instanceCount = (config: ModelConfig): number => config.instance_group.reduce((n, g) => n + g.count, 0);

/**
 * An instance whose kernel is a synchronous TypeScript function over the request's buffers (and the
 * sequence step, for sequence-batched models). Timings: the whole kernel counts as compute_infer.
 */
export function jsInstance(name: string, kernel: (request: ExecuteRequest, step: SequenceStep | undefined) => void): ModelInstance {
  let closed = false;
  return {
    name,
    execute(request: ExecuteRequest, step?: SequenceStep): Promise<ExecuteTimings> {
      if (closed) return Promise.reject(Object.assign(new Error(`instance '${name}' is closed`), { code: "ERR_IAAS_INSTANCE_CLOSED" }));
      const start = process.hrtime.bigint();
      try {
        kernel(request, step);
      } catch (err) {
        return Promise.reject(err instanceof ServerError ? err : new ServerError("INTERNAL", `instance '${name}': ${(err as Error)?.message ?? String(err)}`, { cause: err }));
      }
      const end = process.hrtime.bigint();
      return Promise.resolve({
        computeInputNs: 0,
        computeInferNs: Number(end - start),
        computeOutputNs: 0,
        queueNs: 0,
        startNs: Number(start),
        endNs: Number(end),
      });
    },
    close(): Promise<void> {
      closed = true;
      return Promise.resolve();
    },
  };
}
