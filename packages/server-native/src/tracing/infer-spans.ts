// OpenTelemetry SERVER spans for sampled inference requests, through @opentelemetry/api only: the
// application registers the SDK (tracer provider, exporter, propagator). The core asks the trace settings
// once per request (trace_level / trace_rate / trace_count) and calls recordInferSpans only for the
// sampled ones, after the request finished, so unsampled requests pay nothing here. Spans are built
// after the fact from the timestamps the statistics already measured:
//   KServe ModelInfer (SERVER, from the front end receiving the request to the core finishing it)
//     queue          (waiting for a model instance)
//     compute_input  (staging inputs)  -> compute_infer (the kernel) -> compute_output (staging outputs)
// The parent is the W3C trace context the client sent (HTTP headers or gRPC metadata), extracted with the
// globally registered propagator.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace, type Attributes, type HrTime, type Span, type Tracer, type TracerProvider } from "@opentelemetry/api";
import type { ServerError } from "../core/errors.ts";
import type { InferRequest } from "../core/types.ts";
import type { ScheduledExecution } from "../scheduler/scheduler.ts";
import { carrierGetter } from "./trace-carrier.ts";

export const SERVER_TRACER_NAME = "@iaas/server-native";
export const INFER_SPAN_NAME = "KServe ModelInfer";

let cached: { provider: TracerProvider; tracer: Tracer } | undefined;

function tracer(): Tracer {
  const provider = trace.getTracerProvider();
  if (cached?.provider !== provider) cached = { provider, tracer: provider.getTracer(SERVER_TRACER_NAME) };
  return cached.tracer;
}

// process.hrtime.bigint() (CLOCK_MONOTONIC, also the clock of the native timings) to epoch time: one
// pairing of the two clocks, read once. Offsets from it are exact in a double for 104 days of uptime.
const HR0 = process.hrtime.bigint();
const EPOCH0_MS = performance.timeOrigin + performance.now();
const EPOCH0_S = Math.floor(EPOCH0_MS / 1000);
const EPOCH0_NS = Math.round((EPOCH0_MS - EPOCH0_S * 1000) * 1e6);

function epoch(hrNs: bigint): HrTime {
  const ns = EPOCH0_NS + Number(hrNs - HR0);
  const s = Math.floor(ns / 1e9);
  return [EPOCH0_S + s, ns - s * 1e9];
}

function child(t: Tracer, parent: Span, name: string, startNs: bigint, endNs: bigint, attributes?: Attributes): void {
  const ctx = trace.setSpan(ROOT_CONTEXT, parent);
  const span = t.startSpan(name, { kind: SpanKind.INTERNAL, startTime: epoch(startNs), attributes }, ctx);
  span.end(epoch(endNs < startNs ? startNs : endNs));
}

export interface InferSpanTarget {
  model: string;
  version: string;
  /** Batch elements in the request (the first dimension of batched models, else 1). */
  batchSize?: number;
  /** Set when the request reached a model instance. */
  exec?: ScheduledExecution;
  /** Set when the request failed. */
  error?: ServerError;
  /** The RPC, default "ModelInfer" (decoupled models: "ModelStreamInfer"). */
  method?: string;
  /** Decoupled models: when the model ran (a compute_infer child span) ... */
  compute?: { start: bigint; end: bigint };
  /** ... and when each response went out (a `response` event each, with its index). */
  responses?: readonly bigint[];
}

/** Records the spans of one finished, sampled request; `receivedAt` / `endAt` are process.hrtime.bigint() values. */
export function recordInferSpans(request: InferRequest, target: InferSpanTarget, receivedAt: bigint, endAt: bigint): void {
  const t = tracer();
  const parent = request.traceCarrier === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, request.traceCarrier, carrierGetter);
  const attributes: Attributes = {
    "rpc.system": request.protocol ?? "unknown",
    "rpc.service": "inference.GRPCInferenceService",
    "rpc.method": target.method ?? "ModelInfer",
    "kserve.model.name": target.model,
    "kserve.model.version": target.version,
  };
  if (request.id !== undefined && request.id !== "") attributes["kserve.request.id"] = request.id;
  if (target.batchSize !== undefined) attributes["kserve.batch_size"] = target.batchSize;
  if (request.traceLevels !== undefined) attributes["triton.trace_level"] = request.traceLevels.join(",");
  const span = t.startSpan(INFER_SPAN_NAME, { kind: SpanKind.SERVER, startTime: epoch(receivedAt), attributes }, parent);
  // No SDK registered, or the SDK's sampler declined (e.g. the client's traceparent says "not sampled").
  if (!span.isRecording()) return;
  if (request.traceLevels?.includes("TENSORS")) {
    for (const i of request.inputs) span.addEvent("input", { name: i.name, datatype: i.datatype, shape: i.shape.join(","), byte_size: i.data.byteLength }, epoch(receivedAt));
  }
  const exec = target.exec;
  if (exec !== undefined) {
    const timings = exec.timings;
    const start = BigInt(Math.round(timings.startNs));
    const queueStart = start - exec.queueNs - BigInt(Math.max(0, Math.round(timings.queueNs)));
    child(t, span, "queue", queueStart < receivedAt ? receivedAt : queueStart, start);
    const inputEnd = start + BigInt(Math.max(0, Math.round(timings.computeInputNs)));
    const inferEnd = inputEnd + BigInt(Math.max(0, Math.round(timings.computeInferNs)));
    const outputEnd = inferEnd + BigInt(Math.max(0, Math.round(timings.computeOutputNs)));
    const stage: Attributes = { "iaas.instance": exec.instance };
    if (exec.execution !== undefined) stage["kserve.execution.batch_size"] = exec.execution.size;
    child(t, span, "compute_input", start, inputEnd, stage);
    child(t, span, "compute_infer", inputEnd, inferEnd, stage);
    child(t, span, "compute_output", inferEnd, outputEnd, stage);
  }
  if (target.compute !== undefined) child(t, span, "compute_infer", target.compute.start, target.compute.end);
  target.responses?.forEach((at, index) => span.addEvent("response", { index }, epoch(at)));
  if (target.error !== undefined) {
    span.setAttribute("error.type", target.error.status);
    span.setStatus({ code: SpanStatusCode.ERROR, message: target.error.message });
  }
  span.end(epoch(endAt));
}
