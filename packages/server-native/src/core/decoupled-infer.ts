// One request to a decoupled model: checked like any request, then run by the model's
// DecoupledScheduler, which calls back once per response. Statistics follow Triton's response_stats:
// response i is recorded under key "i" (compute_infer: from the previous response, or the start, to
// this one; compute_output: handing it to the front end; success: both), the final flag without a
// response as empty_response under the next key, and a cancelled or failed request as cancel / fail.
import { tensorDataType, type ModelConfig } from "../repository/model-config.ts";
import { checkInputs, type PlannedOutput } from "../backends/index.ts";
import type { DecoupledScheduler } from "../scheduler/decoupled-scheduler.ts";
import type { ModelStats } from "../stats/model-stats.ts";
import { ServerError, toServerError } from "./errors.ts";
import { failureReason } from "../metrics/failure-reason.ts";
import { recordInferSpans } from "../tracing/infer-spans.ts";
import type { InferOutput, InferRequest, InferResponse } from "./types.ts";

export interface DecoupledTarget {
  config: ModelConfig;
  version: string;
  runner: DecoupledScheduler;
  stats: ModelStats;
  /** The core's output selection (requested outputs, their parameters). */
  select(planned: PlannedOutput[], request: InferRequest): InferOutput[];
}

const EMPTY = Buffer.alloc(0);
const NEVER_ABORTED = new AbortController().signal;

export async function inferDecoupled(
  target: DecoupledTarget,
  request: InferRequest,
  receivedAt: bigint,
  onResponse: (response: InferResponse) => void,
  signal: AbortSignal = NEVER_ABORTED,
): Promise<void> {
  const { config, stats } = target;
  const start = process.hrtime.bigint();
  let last = start;
  let index = 0;
  // When the request is traced: when each response went out (span events).
  const sentAt: bigint[] | undefined = request.traceLevels === undefined ? undefined : [];
  let batch: number | undefined;
  try {
    // Responses come over time, each with its own output buffers: there is no region to bind them to.
    const shared = [...request.inputs, ...(request.outputs ?? [])].find((t) => t.sharedMemory !== undefined);
    if (shared !== undefined)
      throw new ServerError("UNSUPPORTED", `'${shared.name}' of a request to decoupled model '${config.name}': shared memory tensors are not supported for decoupled models`);
    const { inputs, batchSize } = checkInputs(config, request.inputs);
    batch = batchSize;
    // Unknown or repeated output names fail now, before any response went out.
    target.select(
      config.output.map((o) => ({ name: o.name, datatype: tensorDataType(o.data_type), shape: [], data: EMPTY })),
      request,
    );
    await target.runner.run(
      inputs,
      batchSize,
      (planned) => {
        const produced = process.hrtime.bigint();
        const response: InferResponse = { model_name: config.name, model_version: target.version, outputs: target.select(planned, request) };
        if (request.id !== undefined && request.id !== "") response.id = request.id;
        onResponse(response);
        const sent = process.hrtime.bigint();
        sentAt?.push(sent);
        const key = String(index++);
        stats.recordResponse(key, "compute_infer", produced - last);
        stats.recordResponse(key, "compute_output", sent - produced);
        stats.recordResponse(key, "success", sent - last);
        last = sent;
      },
      signal,
    );
    const end = process.hrtime.bigint();
    stats.recordResponse(String(index), "empty_response", end - last);
    const ns = Number(end - start);
    stats.recordSuccess(
      batchSize,
      end - receivedAt,
      0n,
      { computeInputNs: 0, computeInferNs: ns, computeOutputNs: 0, queueNs: 0, startNs: Number(start), endNs: Number(end) },
      false,
    );
    if (sentAt !== undefined) recordInferSpans(request, { model: config.name, version: target.version, batchSize, method: "ModelStreamInfer", compute: { start, end }, responses: sentAt }, receivedAt, end);
  } catch (err) {
    const error = toServerError(err);
    const now = process.hrtime.bigint();
    stats.recordResponse(String(index), error.status === "CANCELLED" ? "cancel" : "fail", now - last);
    stats.recordFailure(now - receivedAt, false);
    stats.countFailure(failureReason(error));
    if (sentAt !== undefined)
      recordInferSpans(request, { model: config.name, version: target.version, batchSize: batch, method: "ModelStreamInfer", responses: sentAt, error }, receivedAt, now);
    throw error;
  }
}
