// What the level runner needs from a load generator: the closed loop (fixed concurrency) and the open loop
// (requests at scheduled times) both implement it.
import type { Window } from "./window.ts";

export interface LoadGenerator {
  /** Requests in flight now, and the most seen at once since start. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Starts sending; results go to a fresh window from now on. */
  start(): void;
  /** The window results go to now. */
  readonly window: Window;
  /** Ends the current window and starts the next one; returns the ended window (asynchronously for worker threads). */
  rotate(): Window | Promise<Window>;
  /** Stops sending, waits for in-flight requests up to `drainMs`, cancels the rest; returns the open window. */
  stop(drainMs?: number): Promise<Window>;
}
