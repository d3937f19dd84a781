// One deadline shared by every attempt of a call: retries and fail-over spend the caller's timeoutMs,
// they do not restart it.
import type { CallOptions } from "../api.ts";

export class Deadline {
  readonly timeoutMs: number;
  readonly #end: number;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
    this.#end = performance.now() + timeoutMs;
  }

  /** Milliseconds left (0 once passed). */
  remaining(): number {
    return Math.max(0, this.#end - performance.now());
  }

  expired(): boolean {
    return performance.now() >= this.#end;
  }

  /** The call options of the next attempt: the caller's, with the time that is left as its timeout. */
  callFor(call: CallOptions): CallOptions {
    // Whole milliseconds, rounded up: timers have 1 ms resolution and must not fire before the deadline.
    return { ...call, timeoutMs: Math.ceil(this.remaining()) };
  }
}

/** A Deadline for calls with a finite non-negative timeoutMs; other values are left to the transport. */
export function deadlineOf(call: CallOptions): Deadline | undefined {
  const t = call.timeoutMs;
  return t !== undefined && Number.isFinite(t) && t >= 0 ? new Deadline(t) : undefined;
}
