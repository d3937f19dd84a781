// Cancellation and deadlines for one call: merges the caller's AbortSignal with the per-call timeout and
// turns whichever fired into the right InferenceError. The deadline is a slot in the event loop's deadline
// queue (deadline-queue.ts; removed when the call ends) instead of AbortSignal.timeout or a timer per call.
// Requests that watch their own deadline (the HTTP fast path: FastRequest.timeoutMs) need no controller
// at all: their scope only words the failure (openQueuedScope).
import type { CallOptions } from "../api.ts";
import { InferenceError } from "../errors.ts";
import { deadlines, type DeadlineTarget } from "./deadline-queue.ts";

export interface CallScope {
  /** Signal to hand to the transport; undefined when the call can be neither cancelled nor time out. */
  readonly signal: AbortSignal | undefined;
  /** The InferenceError for a failure of this call (cancellation and deadline take precedence). */
  fail(error: unknown): InferenceError;
  /** Stops the timer and detaches from the caller's signal. */
  dispose(): void;
}

export function cancelledError(what: string, reason?: unknown): InferenceError {
  const why = reason instanceof Error && reason.name !== "AbortError" ? `: ${reason.message}` : "";
  return new InferenceError("cancelled", `${what} was cancelled${why}`, { cause: reason });
}

export function deadlineError(what: string, timeoutMs: number): InferenceError {
  return new InferenceError("deadline_exceeded", `${what}: deadline of ${timeoutMs} ms exceeded`);
}

const noScope: CallScope = { signal: undefined, fail: (e) => InferenceError.from(e), dispose() {} };

/** The scope of every call with neither a signal nor a timeout (one shared object; callers may test for it). */
export const NO_CALL_SCOPE: CallScope = noScope;

/** The scope of a call with a signal and no timeout: one small object, no closures (a load generator's calls all have one). */
class SignalScope implements CallScope {
  readonly signal: AbortSignal;
  readonly #what: string;

  constructor(signal: AbortSignal, what: string) {
    this.signal = signal;
    this.#what = what;
  }

  fail(e: unknown): InferenceError {
    return this.signal.aborted ? cancelledError(this.#what, this.signal.reason) : InferenceError.from(e);
  }

  dispose(): void {}
}

/**
 * The scope of a call with a deadline: its own AbortController, aborted by the timer or by the caller's
 * signal. One object holds everything the timer, the caller's signal and fail() need (shared functions, no
 * closures: four of them with their contexts cost ~400 B a call in flight).
 */
class DeadlineScope implements CallScope, DeadlineTarget {
  readonly #controller = new AbortController();
  readonly #user: AbortSignal | undefined;
  readonly #what: string;
  readonly #timeoutMs: number;
  deadlineSlot = 0;
  timedOut = false;

  constructor(user: AbortSignal | undefined, what: string, timeoutMs: number) {
    this.#user = user;
    this.#what = what;
    this.#timeoutMs = timeoutMs;
    deadlines.add(this, timeoutMs);
    user?.addEventListener("abort", this, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The deadline passed (deadline-queue.ts). */
  deadlinePassed(): void {
    this.timedOut = true;
    this.#controller.abort(deadlineError(this.#what, this.#timeoutMs));
  }

  /** The caller's signal fired (this object is its listener). */
  handleEvent(): void {
    this.#controller.abort(this.#user!.reason);
  }

  fail(e: unknown): InferenceError {
    if (this.timedOut) return deadlineError(this.#what, this.#timeoutMs);
    if (this.#user?.aborted) return cancelledError(this.#what, this.#user.reason);
    return InferenceError.from(e);
  }

  dispose(): void {
    deadlines.remove(this);
    this.#user?.removeEventListener("abort", this);
  }
}

/**
 * What a request that keeps its own deadline in the queue (FastRequest.timeoutMs) fails with when it passes;
 * its QueuedDeadlineScope turns it into the call's deadline_exceeded error. Never seen by a caller.
 */
export const DEADLINE_PASSED: InferenceError = new InferenceError("deadline_exceeded", "the request's deadline passed");

/**
 * The scope of calls whose request keeps its deadline itself (openQueuedScope): no controller, no timer,
 * nothing per call; shared by calls with the same signal, timeout and description. `signal` is the
 * caller's (watched by the request), `timeoutMs` what the request is to be given.
 */
class QueuedDeadlineScope implements CallScope {
  readonly signal: AbortSignal | undefined;
  readonly timeoutMs: number;
  readonly #what: string;

  constructor(signal: AbortSignal | undefined, what: string, timeoutMs: number) {
    this.signal = signal;
    this.#what = what;
    this.timeoutMs = timeoutMs;
  }

  fail(e: unknown): InferenceError {
    if (e === DEADLINE_PASSED) return deadlineError(this.#what, this.timeoutMs);
    if (this.signal?.aborted) return cancelledError(this.#what, this.signal.reason);
    return InferenceError.from(e);
  }

  dispose(): void {}
}

/**
 * openCallScope for a request that watches its own deadline (the HTTP fast path): the same checks and
 * errors, but a call with a finite timeoutMs gets a scope whose `timeoutMs` the request must be given
 * (queuedTimeout), and no AbortController. The scope holds nothing of one call: callers may share it.
 */
export function openQueuedScope(signal: AbortSignal | undefined, timeoutMs: number | undefined, what: string): CallScope {
  if (signal?.aborted) throw cancelledError(what, signal.reason);
  if (timeoutMs === undefined || !Number.isFinite(timeoutMs)) return signal ? new SignalScope(signal, what) : noScope;
  if (timeoutMs < 0) throw new InferenceError("invalid_argument", `${what}: timeoutMs must be >= 0, got ${timeoutMs}`);
  return new QueuedDeadlineScope(signal, what, timeoutMs);
}

/** The timeoutMs a request opened with openQueuedScope must watch, or undefined. */
export function queuedTimeout(scope: CallScope): number | undefined {
  return scope instanceof QueuedDeadlineScope ? scope.timeoutMs : undefined;
}

/** Throws a "cancelled" InferenceError at once when the caller's signal is already aborted. */
export function openCallScope(options: CallOptions, what: string): CallScope {
  const user = options.signal;
  const timeoutMs = options.timeoutMs;
  if (user?.aborted) throw cancelledError(what, user.reason);
  if (timeoutMs === undefined || !Number.isFinite(timeoutMs)) return user ? new SignalScope(user, what) : noScope;
  if (timeoutMs < 0) throw new InferenceError("invalid_argument", `${what}: timeoutMs must be >= 0, got ${timeoutMs}`);
  return new DeadlineScope(user, what, timeoutMs);
}
