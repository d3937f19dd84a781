// What a unary call on either HTTP/2 path (node:http2: unary-call.ts, the own connection:
// ../wire-h2/wire-call.ts) does the same way: it reads the answer (MessageReader), and ends exactly once,
// stopping its deadline timer and abort listener, resolving with the spec's decode of the answer or
// rejecting with the spec's mapping of the failure. Kept in the call object itself: no closures per call.
import { unwatchAbort, type AbortTarget } from "../../http/fast/abort-watch.ts";
import { MessageReader } from "./message-reader.ts";
import type { GrpcStatusError } from "./status.ts";
import type { UnaryCallSpec } from "./unary-call.ts";

export abstract class SettlingCall<T> extends MessageReader implements AbortTarget {
  readonly #resolve: (value: T) => void;
  readonly #reject: (error: unknown) => void;
  readonly #decode: ((bytes: Buffer, context: unknown) => T) | undefined;
  readonly #fail: ((error: GrpcStatusError, context: unknown) => unknown) | undefined;
  readonly #context: unknown;
  signal: AbortSignal | undefined;
  timer: NodeJS.Timeout | undefined;
  settled = false;

  constructor(spec: UnaryCallSpec<T>, resolve: (value: T) => void, reject: (error: unknown) => void) {
    super(spec.maxMessageLength, spec.align);
    this.#resolve = resolve;
    this.#reject = reject;
    this.#decode = spec.decode;
    this.#fail = spec.fail;
    this.#context = spec.context;
  }

  /** The call's abort listener (the call object itself is registered on its signal). */
  abstract handleEvent(): void;

  /**
   * The signal fired (abort-watch.ts: one listener per signal for all the calls that carry it, so that a
   * signal shared by many calls in flight costs no walk of a long listener list per call).
   */
  aborted(): void {
    this.handleEvent();
  }

  /** Ends the call once: resolves with the decoded answer or rejects with the (mapped) error. */
  settle(error: GrpcStatusError | undefined, value?: Buffer): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.signal !== undefined) unwatchAbort(this.signal, this);
    if (error) {
      this.#reject(this.#fail ? this.#fail(error, this.#context) : error);
      return;
    }
    if (this.#decode === undefined) return this.#resolve(value as T);
    let result: T;
    try {
      result = this.#decode(value!, this.#context);
    } catch (e) {
      return this.#reject(e);
    }
    this.#resolve(result);
  }
}
