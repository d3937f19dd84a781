// InferStream over a transport's StreamChannel: requests go out as send() is called; every response
// and in-band error is queued for the stream's iteration, unless responses(requestId) claimed that
// request, in which case it goes to that request's own queue. Queues are unbounded: a consumer that
// stops reading keeps what the server sends in memory until the stream ends. client.close() ends an open
// stream through shutDown(): a stream has no end of its own, so it would otherwise hold the connection
// (and the process) open.
import type { InferResult, ParameterValue, RequestedOutput } from "../api.ts";
import { InferenceError } from "../errors.ts";
import { InferResultImpl } from "../infer-result.ts";
import { outputParameters, requestParameters } from "../request-parameters.ts";
import { withSequenceParameters } from "../sequence-parameters.ts";
import { outputRegion } from "../shared-memory-args.ts";
import { Tensor } from "../tensor.ts";
import type { InferResponse, OutputRequest, StreamChannel, StreamHandlers } from "../transport/transport.ts";
import type { InferStream, StreamInferOptions, StreamResponse, StreamResult } from "./types.ts";

const FINAL = "triton_final_response";
const EMPTY_FINAL = "triton_enable_empty_final_response";

/** A FIFO with one waiting reader at a time, ended by a close (clean or with an error). */
class Inbox<T> {
  private items: T[] = [];
  private head = 0;
  private waiter: { resolve(v: IteratorResult<T>): void; reject(e: unknown): void } | undefined;
  private ended = false;
  private error: InferenceError | undefined;

  push(item: T): void {
    if (this.ended) return;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  /** Ends the inbox; readers get the queued items first, then done (or the error). */
  close(error?: InferenceError): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    const w = this.waiter;
    this.waiter = undefined;
    if (w) (error ? w.reject(error) : w.resolve({ value: undefined, done: true }));
  }

  next(): Promise<IteratorResult<T>> {
    if (this.head < this.items.length) {
      const value = this.items[this.head]!;
      this.items[this.head++] = undefined as never;
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) return this.error ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true });
    if (this.waiter) return Promise.reject(new InferenceError("failed_precondition", "stream: another reader is already waiting on this iteration"));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Removes and returns the queued items that match. */
  take(match: (item: T) => boolean): T[] {
    const kept: T[] = [];
    const taken: T[] = [];
    for (let i = this.head; i < this.items.length; i++) (match(this.items[i]!) ? taken : kept).push(this.items[i]!);
    this.items = kept;
    this.head = 0;
    return taken;
  }
}

const ignore = (): void => {};

/** The error of a stream ended by client.close(): its reads reject with it, later sends throw its code. */
export function clientClosedError(what: string, cause?: unknown): InferenceError {
  return new InferenceError("cancelled", `${what}: the stream was cancelled because the client was closed`, { cause });
}

function checkArgs(model: unknown, inputs: unknown): void {
  if (typeof model !== "string" || model === "")
    throw new InferenceError("invalid_argument", `stream.send: model name must be a non-empty string, got ${JSON.stringify(model)}`);
  if (!Array.isArray(inputs)) throw new InferenceError("invalid_argument", "stream.send: inputs must be an array of Tensor");
  for (let i = 0; i < inputs.length; i++)
    if (!(inputs[i] instanceof Tensor)) throw new InferenceError("invalid_argument", `stream.send: inputs[${i}] is not a Tensor (build it with new Tensor(...))`);
}

function outputRequests(outputs: (string | RequestedOutput)[] | undefined): OutputRequest[] | undefined {
  if (outputs === undefined) return undefined;
  return outputs.map((o) =>
    typeof o === "string" ? { name: o, binary: true } : { name: o.name, binary: true, parameters: outputParameters(o), sharedMemory: outputRegion(o) },
  );
}

export class InferStreamImpl implements InferStream {
  readonly closed: Promise<void>;
  readonly #inbox = new Inbox<StreamResponse>();
  readonly #claims = new Map<string, Inbox<StreamResponse>>();
  readonly #channel: StreamChannel;
  #serial = 0;
  #over = false;
  /** The caller cancelled (cancel(), breaking out): a later client.close() keeps that error. */
  #cancelled = false;
  /** Set by shutDown(): the stream's error whatever status the cancellation comes back with. */
  #shutdown: InferenceError | undefined;

  /** `open` makes the transport channel with the handlers this stream gives it. */
  constructor(open: (handlers: StreamHandlers) => StreamChannel) {
    let settle!: (error?: InferenceError) => void;
    this.closed = new Promise<void>((resolve, reject) => {
      settle = (error) => (error ? reject(error) : resolve());
    });
    // Awaited through iteration or `closed`; a caller using neither must not see an unhandled rejection.
    this.closed.catch(() => {});
    this.#channel = open({
      response: (response) => this.#deliver(this.#result(response)),
      error: (message, response) => {
        // The protocol carries only a message for in-band errors, no status code.
        this.#deliver({ type: "error", requestId: response?.id ?? "", error: new InferenceError("unknown", message) });
      },
      close: (closeError) => {
        // Ended by client.close(): the cancellation's status says "cancelled"; the reason is the client.
        const error = closeError !== undefined && this.#shutdown !== undefined ? this.#shutdown : closeError;
        this.#over = true;
        this.#inbox.close(error);
        for (const inbox of this.#claims.values()) inbox.close(error ?? new InferenceError("aborted", "stream: the stream ended before this request's final response"));
        this.#claims.clear();
        settle(error);
      },
    });
  }

  #result(response: InferResponse): StreamResult {
    return { type: "result", requestId: response.id, result: new InferResultImpl(response), final: response.parameters[FINAL] !== false };
  }

  #deliver(item: StreamResponse): void {
    const claim = this.#claims.get(item.requestId);
    if (claim === undefined) return this.#inbox.push(item);
    claim.push(item);
    if (item.type === "error" || item.final) {
      this.#claims.delete(item.requestId);
      claim.close();
    }
  }

  send(model: string, inputs: Tensor[], options: StreamInferOptions = {}): string {
    if (this.#shutdown !== undefined)
      throw clientClosedError(`stream.send: cannot send to model '${String(model)}'`, this.#shutdown);
    checkArgs(model, inputs);
    if (options.id !== undefined && typeof options.id !== "string") throw new InferenceError("invalid_argument", "stream.send: id must be a string");
    const id = options.id !== undefined && options.id !== "" ? options.id : `stream-${++this.#serial}`;
    let parameters: Record<string, ParameterValue> | undefined = withSequenceParameters("stream.send", requestParameters(options), options);
    if (options.enableEmptyFinalResponse !== false) parameters = { ...parameters, [EMPTY_FINAL]: true };
    this.#channel.send({
      model,
      version: options.version,
      id,
      inputs,
      outputs: outputRequests(options.outputs),
      parameters,
      binaryInputs: true,
      binaryOutputs: true,
    });
    return id;
  }

  end(): void {
    this.#channel.end();
  }

  cancel(reason?: unknown): void {
    this.#cancelled = true;
    this.#channel.cancel(reason);
  }

  /**
   * Ends the stream for client.close(): cancels it (the server sees CANCELLED) unless it is over or the
   * caller cancelled it already; pending reads, `closed` and later sends fail with clientClosedError.
   * Resolves once the stream has closed.
   */
  shutDown(): Promise<void> {
    if (!this.#over && !this.#cancelled) {
      this.#shutdown = clientClosedError("stream");
      this.#channel.cancel(this.#shutdown);
    }
    return this.closed.then(ignore, ignore);
  }

  responses(requestId: string): AsyncIterable<InferResult> {
    if (typeof requestId !== "string" || requestId === "")
      throw new InferenceError("invalid_argument", `stream.responses: requestId must be a non-empty string, got ${JSON.stringify(requestId)}`);
    if (this.#claims.has(requestId)) throw new InferenceError("failed_precondition", `stream.responses: request '${requestId}' is already being read`);
    const inbox = new Inbox<StreamResponse>();
    let finished = false;
    for (const item of this.#inbox.take((i) => i.requestId === requestId)) {
      inbox.push(item);
      if (item.type === "error" || item.final) finished = true;
    }
    if (finished) inbox.close();
    else if (this.#over) inbox.close(new InferenceError("aborted", "stream: the stream ended before this request's final response"));
    else this.#claims.set(requestId, inbox);
    const claims = this.#claims;
    return {
      async *[Symbol.asyncIterator]() {
        try {
          for (;;) {
            const next = await inbox.next();
            if (next.done) return;
            const item = next.value;
            if (item.type === "error") throw item.error;
            if (item.final && item.result.outputs.length === 0) continue;
            yield item.result;
          }
        } finally {
          // Stopped early: later responses of this request are dropped rather than queued forever.
          if (claims.get(requestId) === inbox) claims.set(requestId, new Inbox<StreamResponse>());
        }
      },
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<StreamResponse> {
    return {
      next: () => this.#inbox.next(),
      return: async () => {
        if (!this.#over) this.cancel(new InferenceError("cancelled", "stream: iteration stopped"));
        return { value: undefined, done: true };
      },
    };
  }
}
