// Cancellation and deadlines for one call: merges the caller's AbortSignal with the per-call timeout and
// turns whichever fired into the right InferenceError. A plain timer (cleared when the call ends) instead
// of AbortSignal.timeout keeps no timers alive after fast calls under load.
import type { CallOptions } from "../api.ts";
import { InferenceError } from "../errors.ts";

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
class DeadlineScope implements CallScope {
  readonly #controller = new AbortController();
  readonly #user: AbortSignal | undefined;
  readonly #what: string;
  readonly #timeoutMs: number;
  readonly #timer: NodeJS.Timeout;
  timedOut = false;

  constructor(user: AbortSignal | undefined, what: string, timeoutMs: number) {
    this.#user = user;
    this.#what = what;
    this.#timeoutMs = timeoutMs;
    this.#timer = setTimeout(deadlinePassed, timeoutMs, this);
    user?.addEventListener("abort", this, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The deadline passed (deadlinePassed, the timer's shared callback). */
  expire(): void {
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
    clearTimeout(this.#timer);
    this.#user?.removeEventListener("abort", this);
  }
}

function deadlinePassed(scope: DeadlineScope): void {
  scope.expire();
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
