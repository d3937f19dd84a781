// What a unary call on either HTTP/2 path (node:http2: unary-call.ts, the own connection:
// ../wire-h2/wire-call.ts) does the same way: it reads the answer (MessageReader), and ends exactly once,
// stopping its deadline timer and abort listener, resolving with the spec's decode of the answer or
// rejecting with the spec's mapping of the failure. Kept in the call object itself: no closures per call.
import { unwatchAbort, type AbortTarget } from "../../abort-watch.ts";
import { FIRST_FREE_BIT, MessageReader } from "./message-reader.ts";
import type { GrpcStatusError } from "./status.ts";
import type { CallEnds, UnaryCallSpec } from "./unary-call.ts";

/** MessageReader.bits: the call has ended. */
const SETTLED = FIRST_FREE_BIT;
/** The lowest bit of `bits` that subclasses of SettlingCall may use. */
export const CALL_FREE_BIT = FIRST_FREE_BIT << 1;

export abstract class SettlingCall<T> extends MessageReader<CallEnds<T>> implements AbortTarget {
  /**
   * The promise's resolve, its only settler kept: a failure resolves it with a rejected promise (the
   * promise adopts the rejection), so a call in flight holds one closure, not two.
   */
  readonly #resolve: (value: T | Promise<never>) => void;
  signal: AbortSignal | undefined;
  timer: NodeJS.Timeout | undefined;

  /** Keeps spec.ends (shared by calls of one kind) or the spec's own decode, fail, context and limits in one object. */
  constructor(spec: UnaryCallSpec<T>, resolve: (value: T) => void) {
    super(spec.ends ?? { maxMessageLength: spec.maxMessageLength, align: spec.align, decode: spec.decode, fail: spec.fail, context: spec.context });
    this.#resolve = resolve as (value: T | Promise<never>) => void;
  }

  get settled(): boolean {
    return (this.bits & SETTLED) !== 0;
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
    if ((this.bits & SETTLED) !== 0) return;
    this.bits |= SETTLED;
    if (this.timer) clearTimeout(this.timer);
    if (this.signal !== undefined) unwatchAbort(this.signal, this);
    const ends = this.limits;
    if (error) {
      this.#resolve(Promise.reject(ends.fail ? ends.fail(error, ends.context) : error));
      return;
    }
    if (ends.decode === undefined) return this.#resolve(value as T);
    let result: T;
    try {
      result = ends.decode(value!, ends.context);
    } catch (e) {
      return this.#resolve(Promise.reject(e));
    }
    this.#resolve(result);
  }
}
