// Closed-loop load: exactly `concurrency` requests in flight; each completion immediately sends the next.
// The hot path reuses one tensor list and one options object, and records into the current window's
// pre-allocated histogram; a request belongs to the window in which its response arrives.
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { InferenceClient, InferOptions, Tensor } from "@iaas/client";
import type { LoadGenerator } from "./generator.ts";
import { Window } from "./window.ts";

export interface ClosedLoopOptions {
  client: InferenceClient;
  model: string;
  inputs: Tensor[];
  /** Sent with every request (model version, outputs, binary flags...). */
  inferOptions?: InferOptions;
  concurrency: number;
}

export class ClosedLoop implements LoadGenerator {
  readonly concurrency: number;
  /** Requests in flight now, and the most seen at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** Completed requests (successes and failures) since start, across windows. */
  completed = 0;
  #client: InferenceClient;
  #model: string;
  #inputs: Tensor[];
  #options: InferOptions;
  #abort = new AbortController();
  #running = false;
  #workers: Promise<void>[] = [];
  #window: Window;

  constructor(options: ClosedLoopOptions) {
    if (!Number.isSafeInteger(options.concurrency) || options.concurrency < 1)
      throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
    this.concurrency = options.concurrency;
    this.#client = options.client;
    this.#model = options.model;
    this.#inputs = options.inputs;
    // One shared signal lets stop() cancel requests a stuck server never answers.
    this.#options = { ...options.inferOptions, signal: this.#abort.signal };
    this.#window = new Window(performance.now());
  }

  get running(): boolean {
    return this.#running;
  }

  get window(): Window {
    return this.#window;
  }

  /** Starts the workers; results go to a fresh window from now on. */
  start(): void {
    if (this.#running) throw new Error("closed loop already running");
    this.#running = true;
    this.#window = new Window(performance.now());
    for (let i = 0; i < this.concurrency; i++) this.#workers.push(this.#worker());
  }

  /** Ends the current window and starts the next one; returns the ended window. */
  rotate(): Window {
    const now = performance.now();
    const ended = this.#window.close(now);
    this.#window = new Window(now);
    return ended;
  }

  /**
   * Stops sending; waits for in-flight requests up to `drainMs`, then cancels the rest.
   * Returns the window that was open (requests completed after the last rotation).
   */
  async stop(drainMs = 10_000): Promise<Window> {
    this.#running = false;
    const all = Promise.all(this.#workers);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), drainMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.#abort.abort();
      await all;
    }
    this.#workers = [];
    return this.#window.close(performance.now());
  }

  async #worker(): Promise<void> {
    const client = this.#client;
    const model = this.#model;
    const inputs = this.#inputs;
    const options = this.#options;
    // One clock read a request: a success's completion time is the next request's send time, as nothing
    // but this loop's own bookkeeping runs between the two (performance.now is ~50 ns, a third of the
    // loop's own cost). After a failure the loop yields, so the clock is read again.
    let t0 = performance.now();
    while (this.#running) {
      if (++this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
      try {
        await client.infer(model, inputs, options);
        const t1 = performance.now();
        this.inFlight--;
        this.completed++;
        this.#window.recordSuccess(t1 - t0);
        t0 = t1;
      } catch (err) {
        this.inFlight--;
        this.completed++;
        this.#window.recordError(err);
        // A client that rejects without I/O would otherwise starve the timers that end windows.
        await yieldToEventLoop();
        t0 = performance.now();
      }
    }
  }
}
