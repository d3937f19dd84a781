// Public types of bidirectional streaming (gRPC ModelStreamInfer), decoupled models and sequences.
import type { CallOptions, InferOptions, InferResult } from "../api.ts";
import type { InferenceError } from "../errors.ts";
import type { SequenceId } from "../sequence-parameters.ts";
import type { Tensor } from "../tensor.ts";

/**
 * Options of a whole stream: `signal` cancels it, `timeoutMs` is the deadline of the whole stream (not
 * of each request), `headers` are sent as metadata when it opens.
 */
export type StreamOptions = CallOptions;

/** Options of one request sent on a stream. */
export interface StreamInferOptions
  extends Pick<
    InferOptions,
    "version" | "id" | "outputs" | "parameters" | "priority" | "serverTimeoutUs" | "sequenceId" | "sequenceStart" | "sequenceEnd"
  > {
  /**
   * Ask the server for an empty response carrying triton_final_response = true after the last response
   * of a decoupled model (Triton's triton_enable_empty_final_response). Default true: without it the
   * client cannot tell when a decoupled request is complete. Models that are not decoupled ignore it.
   */
  enableEmptyFinalResponse?: boolean;
}

/** One response on a stream. */
export interface StreamResult {
  readonly type: "result";
  /** The id of the request it answers (the server echoes it). */
  readonly requestId: string;
  readonly result: InferResult;
  /**
   * Whether it is the request's last response (response parameter triton_final_response; true when the
   * server does not send it). A decoupled request ends with an empty result (no outputs) with final true.
   */
  readonly final: boolean;
}

/** A request that failed on a stream (ModelStreamInferResponse.error_message); the stream stays open. */
export interface StreamError {
  readonly type: "error";
  /** The id of the failed request, when the server named it ("" otherwise). */
  readonly requestId: string;
  readonly error: InferenceError;
}

export type StreamResponse = StreamResult | StreamError;

/**
 * A bidirectional inference stream. Iterate it for every response and in-band error, in arrival order;
 * iteration ends when the server has answered everything after end(), and throws an InferenceError when
 * the stream fails (code "cancelled" after cancel(), an aborted signal or client.close(), "deadline_exceeded", ...).
 * Breaking out of the iteration cancels the stream.
 */
export interface InferStream extends AsyncIterable<StreamResponse> {
  /**
   * Sends one request and returns its id: options.id, or one generated for this stream ("stream-<n>").
   * Throws an InferenceError (invalid_argument, failed_precondition after end()/cancel(), cancelled once
   * client.close() ended the stream).
   */
  send(model: string, inputs: Tensor[], options?: StreamInferOptions): string;
  /** Half-closes: nothing more will be sent; the server ends the stream once it answered everything. */
  end(): void;
  /** Cancels the stream: the server sees CANCELLED and stops; iteration throws code "cancelled". */
  cancel(reason?: unknown): void;
  /**
   * The results of one request, until its final response (empty final responses are not yielded); throws
   * its in-band error as an InferenceError. Its responses no longer appear in the stream's own iteration
   * (those already queued there move here). Call it right after send().
   */
  responses(requestId: string): AsyncIterable<InferResult>;
  /** Settles when the stream is over: resolves after a clean end, rejects with the stream's error. */
  readonly closed: Promise<void>;
}

/** Options of inferDecoupled: one request's options plus the stream's (signal, timeoutMs, headers). */
export interface DecoupledInferOptions extends StreamInferOptions, CallOptions {}

/** Options of client.sequence(). */
export interface SequenceOptions {
  /** The sequence id; default: a random positive integer below 2^53. */
  id?: SequenceId;
  /** Send the requests on this stream instead of as single calls (gRPC). */
  stream?: InferStream;
}

/** Per-request options of a sequence's requests (the sequence fields are set by the sequence). */
export type SequenceInferOptions = Omit<InferOptions, "sequenceId" | "sequenceStart" | "sequenceEnd">;

/**
 * One sequence of a stateful model. Requests go out one at a time in call order (each waits for the
 * previous answer); the first that succeeds carried sequence_start.
 */
export interface InferSequence {
  readonly model: string;
  readonly id: SequenceId;
  /** Whether end() has been called. */
  readonly ended: boolean;
  /** Sends one request of the sequence (START on the first). */
  infer(inputs: Tensor[], options?: SequenceInferOptions): Promise<InferResult>;
  /** Sends the last request of the sequence (END); later calls reject with failed_precondition. */
  end(inputs: Tensor[], options?: SequenceInferOptions): Promise<InferResult>;
}
