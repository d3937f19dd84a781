// gRPC ModelStreamInfer as a StreamChannel: requests encoded with the unary codec (infer-codec.ts) and
// written as they are sent; each ModelStreamInferResponse becomes a response or an in-band error; the
// call's final status closes the channel. Deadline = the whole stream's; metadata from the call's
// headers and, when the client has an auth hook, from the hook (requests wait for it).
import * as grpc from "@grpc/grpc-js";
import type { CallOptions } from "../../api.ts";
import { InferenceError } from "../../errors.ts";
import { cancelledError, deadlineError } from "../call-scope.ts";
import type { InferRequest, InferResponse, OutputRequest, StreamChannel, StreamHandlers } from "../transport.ts";
import { decodeInferResponse, encodeInferRequest, type WireInferResponse } from "./infer-codec.ts";

interface WireStreamResponse {
  error_message?: string;
  infer_response?: WireInferResponse;
}

type StreamMethod = (metadata: grpc.Metadata, options: grpc.CallOptions) => grpc.ClientDuplexStream<unknown, WireStreamResponse>;

const WHAT = "stream";

/**
 * Opens the stream. `client` is the GRPCInferenceService client; `authHeaders` (optional) yields extra
 * metadata before the call starts. Handlers are never called synchronously from here.
 */
export function openGrpcStream(
  client: grpc.Client,
  call: CallOptions,
  handlers: StreamHandlers,
  authHeaders?: () => Promise<Record<string, string>>,
): StreamChannel {
  const timeoutMs = call.timeoutMs;
  if (timeoutMs !== undefined && !(timeoutMs >= 0)) throw new InferenceError("invalid_argument", `${WHAT}: timeoutMs must be >= 0, got ${timeoutMs}`);
  const signal = call.signal;
  if (signal?.aborted) throw cancelledError(WHAT, signal.reason);
  const deadline = timeoutMs !== undefined && Number.isFinite(timeoutMs) ? Date.now() + timeoutMs : undefined;

  let duplex: grpc.ClientDuplexStream<unknown, WireStreamResponse> | undefined;
  /** Written before the call existed (auth hook pending). */
  let backlog: unknown[] | undefined = authHeaders ? [] : undefined;
  let halfClosed = false;
  let closed = false;
  let cancelReason: unknown;
  let cancelled = false;
  let failure: grpc.ServiceError | undefined;
  /** Requested outputs of requests still in flight, by id (for outputs placed in shared memory). */
  const outputsById = new Map<string, readonly OutputRequest[]>();

  const close = (error?: InferenceError): void => {
    if (closed) return;
    closed = true;
    signal?.removeEventListener("abort", onAbort);
    handlers.close(error);
  };

  const statusError = (status: grpc.StatusObject): InferenceError => {
    if (cancelled) return cancelledError(WHAT, cancelReason);
    if (status.code === grpc.status.DEADLINE_EXCEEDED && timeoutMs !== undefined) return deadlineError(WHAT, timeoutMs);
    return InferenceError.from(failure ?? Object.assign(new Error(status.details), { code: status.code, details: status.details }));
  };

  const decode = (wire: WireInferResponse): InferResponse => {
    const id = wire.id ?? "";
    const response = decodeInferResponse(wire, outputsById.get(id));
    if (response.parameters.triton_final_response !== false) outputsById.delete(id);
    return response;
  };

  const start = (extra: Record<string, string> | undefined): void => {
    const metadata = new grpc.Metadata();
    if (extra) for (const k of Object.keys(extra)) metadata.set(k, extra[k]!);
    if (call.headers) for (const k of Object.keys(call.headers)) metadata.set(k, call.headers[k]!);
    const method = (client as unknown as Record<string, StreamMethod>).ModelStreamInfer!;
    const d = method.call(client, metadata, deadline === undefined ? {} : { deadline });
    duplex = d;
    d.on("data", (message: WireStreamResponse) => {
      if (closed) return;
      try {
        if (message.error_message) {
          const partial = message.infer_response ? decode({ ...message.infer_response, outputs: [], raw_output_contents: [] }) : undefined;
          if (partial) outputsById.delete(partial.id);
          handlers.error(message.error_message, partial);
        } else {
          handlers.response(decode(message.infer_response ?? {}));
        }
      } catch (e) {
        // A response that does not decode is a broken stream, not one failed request.
        close(InferenceError.from(e));
        d.cancel();
      }
    });
    d.on("error", (e: grpc.ServiceError) => {
      failure = e;
    });
    d.on("status", (status: grpc.StatusObject) => close(status.code === grpc.status.OK ? undefined : statusError(status)));
    for (const message of backlog ?? []) d.write(message);
    backlog = undefined;
    if (halfClosed) d.end();
  };

  const cancel = (reason?: unknown): void => {
    if (closed || cancelled) return;
    cancelled = true;
    cancelReason = reason;
    if (duplex) duplex.cancel();
    else queueMicrotask(() => close(cancelledError(WHAT, reason)));
  };
  const onAbort = (): void => cancel(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });

  if (authHeaders) {
    authHeaders().then(
      (extra) => {
        if (!closed && !cancelled) start(extra);
      },
      (e: unknown) => close(InferenceError.from(e)),
    );
  } else {
    start(undefined);
  }

  return {
    send(request: InferRequest): void {
      if (closed || cancelled) throw new InferenceError("failed_precondition", `${WHAT}: cannot send to model '${request.model}': the stream is closed`);
      if (halfClosed) throw new InferenceError("failed_precondition", `${WHAT}: cannot send to model '${request.model}': end() was called`);
      const message = encodeInferRequest(request);
      if (request.outputs && request.id) outputsById.set(request.id, request.outputs);
      if (duplex) duplex.write(message);
      else backlog!.push(message);
    },
    end(): void {
      if (halfClosed || closed) return;
      halfClosed = true;
      duplex?.end();
    },
    cancel,
  };
}
