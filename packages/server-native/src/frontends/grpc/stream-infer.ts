// gRPC ModelStreamInfer, as Triton serves it. Each request on the stream is independent:
// - a non-decoupled model answers once; those answers go out in request order and carry the response
//   parameter triton_final_response = true;
// - a decoupled model answers any number of times as the responses come (triton_final_response =
//   false), then, only when the request set triton_enable_empty_final_response = true, with an empty
//   response carrying triton_final_response = true;
// - a failing request answers ModelStreamInferResponse.error_message (with the request id) and the
//   stream stays open for the others.
// When the client cancels the stream, decoupled requests in flight are cancelled (the model stops and
// nothing more is written). After the client half-closes, the stream ends once every request answered.
import type * as grpc from "@grpc/grpc-js";
import { ServerError, toServerError } from "../../core/errors.ts";
import type { InferenceServer } from "../../core/inference-server.ts";
import type { InferRequest, InferResponse } from "../../core/types.ts";

/** The fields of a raw ModelInferRequest this handler reads itself (for in-band errors). */
export interface RawStreamRequest {
  id?: string;
  model_name?: string;
  model_version?: string;
}

export interface StreamCodec<Req extends RawStreamRequest> {
  decode(request: Req): InferRequest;
  encode(response: InferResponse): unknown;
  log(message: string): void;
}

type WireParameters = Record<string, { bool_param?: boolean }>;
type WireResponse = { parameters?: WireParameters } & Record<string, unknown>;

const EMPTY_FINAL_PARAMETER = "triton_enable_empty_final_response";

/** Writes the answers of non-decoupled requests in the order the requests arrived. */
class OrderedWriter {
  private slots: (unknown | undefined)[] = [];
  /** Index in `slots` of the oldest unwritten answer. */
  private start = 0;
  /** Ticket number of slots[0]. */
  private base = 0;
  private readonly write: (message: unknown) => void;

  constructor(write: (message: unknown) => void) {
    this.write = write;
  }

  reserve(): number {
    this.slots.push(undefined);
    return this.base + this.slots.length - 1;
  }

  fill(ticket: number, message: unknown): void {
    this.slots[ticket - this.base] = message;
    while (this.start < this.slots.length && this.slots[this.start] !== undefined) {
      const next = this.slots[this.start];
      this.slots[this.start++] = undefined;
      this.write(next);
    }
    if (this.start === this.slots.length) {
      this.base += this.start;
      this.slots = [];
      this.start = 0;
    }
  }
}

function withFinalFlag(encoded: unknown, final: boolean): WireResponse {
  const message = encoded as WireResponse;
  message.parameters = { ...message.parameters, triton_final_response: { bool_param: final } };
  return message;
}

function enableEmptyFinal(request: InferRequest): boolean {
  const v = request.parameters?.[EMPTY_FINAL_PARAMETER];
  if (v === undefined) return false;
  if (typeof v !== "boolean") throw new ServerError("INVALID_ARG", `invalid value type for '${EMPTY_FINAL_PARAMETER}' parameter, expected bool_param`);
  return v;
}

export function modelStreamInfer<Req extends RawStreamRequest>(
  server: InferenceServer,
  codec: StreamCodec<Req>,
): (call: grpc.ServerDuplexStream<Req, unknown>) => void {
  return (call) => {
    const cancel = new AbortController();
    let pending = 0;
    let ended = false;
    const write = (message: unknown): void => {
      if (!cancel.signal.aborted) call.write(message);
    };
    const ordered = new OrderedWriter(write);
    const done = (): void => {
      pending--;
      if (ended && pending === 0 && !cancel.signal.aborted) call.end();
    };
    const errorMessage = (raw: Req, err: unknown): unknown => {
      const e = toServerError(err);
      if (e.status === "INTERNAL") codec.log(`internal error on ModelStreamInfer: ${e.stack ?? e.message}`);
      // The id (and model) tell the client which request failed; the error ends that request.
      const infer_response = withFinalFlag({ id: raw.id ?? "", model_name: raw.model_name ?? "", model_version: raw.model_version ?? "" }, true);
      return { error_message: e.message, infer_response };
    };

    call.on("data", (raw: Req) => {
      const receivedAt = process.hrtime.bigint();
      pending++;
      let request: InferRequest;
      let decoupled: boolean;
      let emptyFinal: boolean;
      try {
        request = codec.decode(raw);
        request.traceCarrier = call.metadata;
        request.protocol = "grpc";
        decoupled = server.isDecoupled(request.model, request.version);
        emptyFinal = enableEmptyFinal(request);
      } catch (err) {
        ordered.fill(ordered.reserve(), errorMessage(raw, err));
        return done();
      }
      if (!decoupled) {
        const ticket = ordered.reserve();
        server.infer(request, receivedAt).then(
          (response) => ordered.fill(ticket, { error_message: "", infer_response: withFinalFlag(codec.encode(response), true) }),
          (err: unknown) => ordered.fill(ticket, errorMessage(raw, err)),
        ).finally(done);
        return;
      }
      server
        .inferDecoupled(request, receivedAt, (response) => write({ error_message: "", infer_response: withFinalFlag(codec.encode(response), false) }), cancel.signal)
        .then(
          () => {
            if (!emptyFinal) return;
            const final = { id: request.id ?? "", model_name: request.model, model_version: request.version ?? "" };
            write({ error_message: "", infer_response: withFinalFlag(final, true) });
          },
          (err: unknown) => write(errorMessage(raw, err)),
        )
        .finally(done);
    });
    call.on("end", () => {
      ended = true;
      if (pending === 0) call.end();
    });
    call.on("cancelled", () => cancel.abort(new ServerError("CANCELLED", "the client cancelled the stream")));
    call.on("error", () => cancel.abort(new ServerError("CANCELLED", "the stream failed")));
  };
}
