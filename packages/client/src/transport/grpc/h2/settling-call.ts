// What a unary call on either HTTP/2 path (node:http2: unary-call.ts, the own connection:
// ../wire-h2/wire-call.ts) does the same way: it reads the answer (MessageReader), and ends exactly once,
// leaving the deadline queue and its abort watch, resolving with the spec's decode of the answer or
// rejecting with the spec's mapping of the failure. Kept in the call object itself: no closures per call.
import { unwatchAbort, type AbortTarget } from "../../abort-watch.ts";
import { deadlines, type DeadlineTarget } from "../../deadline-queue.ts";
import { callBack, type InferCallback } from "../../infer-callback.ts";
import { FIRST_FREE_BIT, MessageReader } from "./message-reader.ts";
import { Status, type GrpcStatusError } from "./status.ts";
import type { CallEnds, UnaryCallSpec } from "./unary-call.ts";

/** MessageReader.bits: the call has ended. */
const SETTLED = FIRST_FREE_BIT;
/** MessageReader.bits: the call ends by a callback (see callbackContext), not by a promise's resolve. */
export const CALLBACK = FIRST_FREE_BIT << 1;
/** The lowest bit of `bits` that subclasses of SettlingCall may use. */
export const CALL_FREE_BIT = FIRST_FREE_BIT << 2;

export abstract class SettlingCall<T> extends MessageReader<CallEnds<T>> implements AbortTarget, DeadlineTarget {
  /**
   * The promise's resolve, its only settler kept: a failure resolves it with a rejected promise (the
   * promise adopts the rejection), so a call in flight holds one closure, not two. With CALLBACK: the
   * caller's callback instead (no promise at all).
   */
  readonly #resolve: (value: T | Promise<never>) => void;
  /** The call's place in the event loop's deadline queue (deadline-queue.ts; 0: none). */
  deadlineSlot = 0;

  /**
   * Keeps spec.ends (shared by calls of one kind) or the spec's own decode, fail, context, signal and limits
   * in one object. The signal is the spec's (the ends carry it: no field of the call's own).
   */
  constructor(spec: UnaryCallSpec<T>, resolve: (value: T) => void) {
    super(spec.ends ?? { maxMessageLength: spec.maxMessageLength, align: spec.align, decode: spec.decode, fail: spec.fail, context: spec.context, signal: spec.signal });
    this.#resolve = resolve as (value: T | Promise<never>) => void;
  }

  /** The context a CALLBACK call hands its callback (a subclass that makes such calls keeps it). */
  protected callbackContext(): unknown {
    return undefined;
  }

  /** The caller's signal (watched from the call's start until it settles). */
  get signal(): AbortSignal | undefined {
    return this.limits.signal;
  }

  get settled(): boolean {
    return (this.bits & SETTLED) !== 0;
  }

  /** The call's abort listener (the call object itself is registered on its signal). */
  abstract handleEvent(): void;

  /** The call gives up with this status: settles, then cancels its stream. */
  abstract abandon(code: number, details: string): void;

  /** Watches the deadline `timeoutMs` from now (the shared queue: no timer of the call's own). */
  setDeadline(timeoutMs: number): void {
    deadlines.add(this, timeoutMs);
  }

  /** The deadline passed (deadline-queue.ts). */
  deadlinePassed(): void {
    this.abandon(Status.DEADLINE_EXCEEDED, "Deadline exceeded");
  }

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
    if (this.deadlineSlot !== 0) deadlines.remove(this);
    const signal = this.limits.signal;
    if (signal !== undefined) unwatchAbort(signal, this);
    const ends = this.limits;
    if ((this.bits & CALLBACK) !== 0) return this.callBack(error, value);
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

  // Not a #private method: those put a brand field on every instance (8 bytes a call in flight).
  private callBack(error: GrpcStatusError | undefined, value: Buffer | undefined): void {
    const ends = this.limits;
    const callback = this.#resolve as unknown as InferCallback<T, unknown>;
    const context = this.callbackContext();
    if (error) return callBack(callback, ends.fail ? ends.fail(error, ends.context) : error, undefined, context);
    if (ends.decode === undefined) return callBack(callback, null, value as T, context);
    let result: T;
    try {
      result = ends.decode(value!, ends.context);
    } catch (e) {
      return callBack(callback, e, undefined, context);
    }
    callBack(callback, null, result, context);
  }
}
