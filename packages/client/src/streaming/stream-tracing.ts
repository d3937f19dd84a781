// One OpenTelemetry CLIENT span per gRPC inference stream (ModelStreamInfer), from open to close, through
// @opentelemetry/api only. The span is a child of the context active when the stream is opened, and its
// context goes out as traceparent/tracestate in the stream's metadata, the only place a stream carries
// headers: the server parents the spans of every request of the stream on it. A stream is one RPC, so it
// is one span; its requests and responses are span events (rpc.message, SENT / RECEIVED, numbered from 1
// each way as the RPC conventions ask) and counts set when it closes. The status is the stream's end:
// OK, or the error that ended it (cancelled, deadline, lost connection). In-band errors are events: they
// fail one request, not the stream.
import { SpanKind, context, propagation, trace, type Attributes, type Span, type Tracer } from "@opentelemetry/api";
import type { CallOptions } from "../api.ts";
import type { InferRequest, InferResponse, StreamChannel, StreamHandlers } from "../transport/transport.ts";

export const STREAM_METHOD = "ModelStreamInfer";
const EVENT = "rpc.message";

type Open = (call: CallOptions, handlers: StreamHandlers) => StreamChannel;

/**
 * Opens a stream through `open` inside a new CLIENT span `KServe ModelStreamInfer` with `attributes`
 * (rpc.* and server.*); `end` sets the span's final status from the stream's error (or none) and ends it.
 */
export function openTracedStream(
  tracer: Tracer,
  attributes: Attributes,
  end: (span: Span, error: unknown) => void,
  open: Open,
  call: CallOptions,
  handlers: StreamHandlers,
): StreamChannel {
  const parent = context.active();
  const span = tracer.startSpan(`KServe ${STREAM_METHOD}`, { kind: SpanKind.CLIENT, attributes: { ...attributes, "rpc.method": STREAM_METHOD } }, parent);
  const ctx = trace.setSpan(parent, span);
  const headers: Record<string, string> = { ...call.headers };
  propagation.inject(ctx, headers);
  // A span the sampler dropped records nothing: skip building the events.
  const recording = span.isRecording();
  let sent = 0;
  let received = 0;
  let responses = 0;
  let errors = 0;
  // The model of every request, or null once requests went to several models.
  let model: string | null | undefined;

  const receivedEvent = (response: InferResponse | undefined, error?: string): void => {
    const event: Attributes = { "rpc.message.type": "RECEIVED", "rpc.message.id": received };
    if (response !== undefined) {
      event["kserve.request.id"] = response.id;
      // Decoupled models mark the last response of a request.
      if (response.parameters.triton_final_response !== undefined) event["triton.final_response"] = response.parameters.triton_final_response !== false;
    }
    if (error !== undefined) event["error.message"] = error;
    span.addEvent(EVENT, event);
  };

  const traced: StreamHandlers = {
    response(response) {
      received++;
      responses++;
      if (recording) receivedEvent(response);
      handlers.response(response);
    },
    error(message, response) {
      received++;
      errors++;
      if (recording) receivedEvent(response, message);
      handlers.error(message, response);
    },
    close(error) {
      span.setAttributes({ "kserve.stream.requests": sent, "kserve.stream.responses": responses, "kserve.stream.errors": errors });
      if (model) span.setAttribute("kserve.model.name", model);
      end(span, error);
      handlers.close(error);
    },
  };

  let channel: StreamChannel;
  try {
    // Inside the span's context, so that instrumentation below (grpc-js, http2) nests under it.
    channel = context.with(ctx, open, undefined, { ...call, headers }, traced);
  } catch (e) {
    end(span, e);
    throw e;
  }
  return {
    send(request: InferRequest): void {
      // A request that cannot be encoded or finds the stream closed throws before it counts.
      channel.send(request);
      sent++;
      model = model === undefined || model === request.model ? request.model : null;
      if (recording) {
        const event: Attributes = { "rpc.message.type": "SENT", "rpc.message.id": sent, "kserve.model.name": request.model };
        if (request.id) event["kserve.request.id"] = request.id;
        span.addEvent(EVENT, event);
      }
    },
    end: () => channel.end(),
    cancel: (reason?: unknown) => channel.cancel(reason),
  };
}
