// Open-loop load: requests leave at scheduled times whatever the number outstanding (wrk2 / perf_analyzer's
// request-rate mode), bounded only by a max-outstanding safety cap.
//
// Timing: one timer at a time, never a timer per request. A wait longer than SPIN_BELOW_MS is a timer for the
// whole wait; Node truncates fractional delays and starts timers from a cached loop clock, so they often fire
// a fraction of a millisecond early, and the remaining stretch (under SPIN_BELOW_MS) is covered by
// setImmediate turns, which let I/O run in between. Measured with a trivial client on the 2-core dev machine:
// this keeps ~99% of sends within 1 ms of schedule at 200-2000 requests/s for 7-15% of a core, where a 1 ms
// early wake-up plus spinning cost 37% at 200/s and a whole core at 1000/s, and timers alone sent 14% late.
// Every request whose time has come is sent in the same turn (a catch-up batch, up to MAX_BATCH), so a late
// wake-up never shifts the schedule: it is fixed in advance, and each request's latency is measured from its
// scheduled time (coordinated omission corrected) as well as from its actual send.
// Accounting: a send is counted in the window open when it leaves; one scheduled before that window opened
// (a backlog drained after the loop fell behind) is also counted as carried in, and each window records how
// far behind the schedule was when it closed, so a catch-up burst is visible instead of passing as rate.
import type { InferenceClient, InferOptions, Tensor } from "@iaas/client";
import type { LoadGenerator } from "./generator.ts";
import type { IntervalSource } from "./schedule.ts";
import { Window } from "./window.ts";

/** Default cap on requests outstanding at once. */
export const DEFAULT_MAX_OUTSTANDING = 512;
const SPIN_BELOW_MS = 0.3;
/** Most sends in one event-loop turn: a backlog goes out in batches so that responses are still read. */
const MAX_BATCH = 128;

export interface OpenLoopOptions {
  client: InferenceClient;
  model: string;
  inputs: Tensor[];
  inferOptions?: InferOptions;
  /** Gaps between scheduled sends (rateIntervals / replayIntervals). */
  intervals: IntervalSource;
  /** Safety cap on requests outstanding; a request due while it is reached waits for a free slot. Default 512. */
  maxOutstanding?: number;
}

export class OpenLoop implements LoadGenerator {
  readonly maxOutstanding: number;
  inFlight = 0;
  maxInFlight = 0;
  completed = 0;
  /** Requests that found `maxOutstanding` reached at their scheduled time and waited for a free slot. */
  capDelayed = 0;
  #client: InferenceClient;
  #model: string;
  #inputs: Tensor[];
  #options: InferOptions;
  #intervals: IntervalSource;
  #abort = new AbortController();
  #running = false;
  #window: Window;
  /** Scheduled time (performance.now() ms) of the next request. */
  #next = 0;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #waitingForSlot = false;
  #heldCounted = false;
  #drained: (() => void) | undefined;

  constructor(options: OpenLoopOptions) {
    const cap = options.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING;
    if (!Number.isSafeInteger(cap) || cap < 1) throw new RangeError(`maxOutstanding must be a positive integer, got ${cap}`);
    this.maxOutstanding = cap;
    this.#client = options.client;
    this.#model = options.model;
    this.#inputs = options.inputs;
    this.#options = { ...options.inferOptions, signal: this.#abort.signal };
    this.#intervals = options.intervals;
    this.#window = new Window(performance.now(), true);
  }

  get window(): Window {
    return this.#window;
  }

  start(): void {
    if (this.#running) throw new Error("open loop already running");
    this.#running = true;
    const now = performance.now();
    this.#window = new Window(now, true);
    this.#next = now;
    this.#tick();
  }

  rotate(): Window {
    const now = performance.now();
    // Requests due before `now` but not sent yet go out in the next window, counted there as carried in.
    this.#window.lagAtEndMs = Math.max(0, now - this.#next);
    const ended = this.#window.close(now);
    this.#window = new Window(now, true);
    return ended;
  }

  async stop(drainMs = 10_000): Promise<Window> {
    if (this.#running) this.#window.lagAtEndMs = Math.max(0, performance.now() - this.#next);
    this.#running = false;
    clearTimeout(this.#timer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
    if (this.inFlight > 0) {
      const drained = new Promise<void>((resolve) => (this.#drained = resolve));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        drained.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), drainMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.#abort.abort();
        await drained;
      }
      this.#drained = undefined;
    }
    return this.#window.close(performance.now());
  }

  #tick = (): void => {
    this.#timer = undefined;
    this.#immediate = undefined;
    if (!this.#running) return;
    let now = performance.now();
    let batch = 0;
    while (this.#next <= now) {
      if (this.inFlight >= this.maxOutstanding) {
        // The next completion resumes sending; the held request's latency still counts from its scheduled time.
        if (!this.#heldCounted) {
          this.capDelayed++;
          this.#heldCounted = true;
        }
        this.#waitingForSlot = true;
        return;
      }
      this.#heldCounted = false;
      void this.#send(this.#next, now);
      this.#next += this.#intervals();
      if (++batch === MAX_BATCH) {
        this.#immediate = setImmediate(this.#tick);
        return;
      }
      now = performance.now();
    }
    const wait = this.#next - now;
    if (wait > SPIN_BELOW_MS) this.#timer = setTimeout(this.#tick, wait);
    else this.#immediate = setImmediate(this.#tick);
  };

  async #send(scheduled: number, sentAt: number): Promise<void> {
    if (++this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
    this.#window.recordSend(sentAt - scheduled, scheduled);
    try {
      await this.#client.infer(this.#model, this.#inputs, this.#options);
      const end = performance.now();
      this.inFlight--;
      this.completed++;
      this.#window.recordOpenSuccess(end - scheduled, end - sentAt);
    } catch (err) {
      this.inFlight--;
      this.completed++;
      this.#window.recordError(err);
    }
    if (this.#waitingForSlot && this.#running) {
      this.#waitingForSlot = false;
      this.#tick();
    }
    if (this.inFlight === 0) this.#drained?.();
  }
}
