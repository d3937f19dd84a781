// A bounded window of requests in flight whose results come out in submission order (an event loop sends
// one request per event, keeps N of them in flight, and must write results in event order even though
// responses complete out of order). A failed request is delivered in its place; later ones still come.
import type { InferOptions, InferResult, InferenceClient } from "./api.ts";
import { InferenceError } from "./errors.ts";
import type { Tensor } from "./tensor.ts";

/** The outcome of one submission, in the style of Promise.allSettled, with its submission index. */
export type Settled<T> =
  | { index: number; status: "fulfilled"; value: T }
  | { index: number; status: "rejected"; reason: unknown };

export interface OrderedInflightOptions<T> {
  /**
   * Submissions whose outcome has not been released yet (running, or finished but waiting for an earlier
   * one). A submission beyond it waits to start. Default 16.
   */
  maxInFlight?: number;
  /** Receives every outcome in submission order as soon as it and all earlier ones have finished. */
  onResult?: (outcome: Settled<T>) => void;
  /** Aborting cancels the queue: running tasks see their signal aborted, waiting ones are not started. */
  signal?: AbortSignal;
}

/** A unit of work; `signal` aborts when the queue is cancelled. */
export type Task<T> = (signal: AbortSignal, index: number) => T | PromiseLike<T>;

interface Slot<T> {
  task: Task<T> | undefined;
  started: (() => void) | undefined;
  outcome: Settled<T> | undefined;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

const DEFAULT_MAX_IN_FLIGHT = 16;

function invalid(message: string): InferenceError {
  return new InferenceError("invalid_argument", message);
}

/**
 * Ordered, bounded in-flight queue. `submit` starts a task as soon as fewer than `maxInFlight` earlier
 * submissions are unreleased and resolves (with the submission index) once it has started, so awaiting it
 * applies backpressure. Outcomes are released strictly in submission order, to `onResult` or to the async
 * iterator (one consumer). Indices follow the order of the submit calls.
 */
export class OrderedInflight<T> implements AsyncIterable<Settled<T>> {
  readonly maxInFlight: number;
  readonly #onResult: ((outcome: Settled<T>) => void) | undefined;
  readonly #controller = new AbortController();
  /** slots[i - base] belongs to submission i; entries before head - base are released. */
  #slots: Slot<T>[] = [];
  #base = 0;
  /** Next submission index to release. */
  #head = 0;
  /** Next submission index to hand out. */
  #next = 0;
  #running = 0;
  #closed = false;
  #failure: { error: unknown } | undefined;
  /** Released outcomes the iterator has not taken yet. */
  #ready: Settled<T>[] = [];
  #readyHead = 0;
  #reader: Waiter | undefined;
  #drainers: Waiter[] = [];
  #iterating = false;
  readonly #onAbort: (() => void) | undefined;
  readonly #signal: AbortSignal | undefined;

  constructor(options: OrderedInflightOptions<T> = {}) {
    const max = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    if (!Number.isSafeInteger(max) || max < 1) throw invalid(`maxInFlight must be a positive integer, got ${String(max)}`);
    if (options.onResult !== undefined && typeof options.onResult !== "function") throw invalid("onResult must be a function");
    this.maxInFlight = max;
    this.#onResult = options.onResult;
    this.#signal = options.signal;
    if (options.signal) {
      if (options.signal.aborted) this.abort(options.signal.reason);
      else {
        this.#onAbort = () => this.abort(options.signal!.reason);
        options.signal.addEventListener("abort", this.#onAbort, { once: true });
      }
    }
  }

  /** Tasks started and not yet finished. */
  get inFlight(): number {
    return this.#running;
  }

  /** Submissions whose outcome has not been released (waiting to start, running, or waiting for earlier ones). */
  get pending(): number {
    return this.#next - this.#head;
  }

  /** The queue's signal, aborted by abort() or the options' signal. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Queues `task`; resolves with its index once it has started (or, if the queue was cancelled before it
   * could start, once its "cancelled" outcome is queued). Rejects after close() or abort().
   */
  submit(task: Task<T>): Promise<number> {
    if (typeof task !== "function") return Promise.reject(invalid(`submit: task must be a function, got ${typeof task}`));
    if (this.#failure) return Promise.reject(this.#failure.error);
    if (this.#controller.signal.aborted) return Promise.reject(this.#cancelled("submit"));
    if (this.#closed) return Promise.reject(new InferenceError("failed_precondition", "submit: the queue is closed"));
    const index = this.#next++;
    const slot: Slot<T> = { task, started: undefined, outcome: undefined };
    this.#slots.push(slot);
    if (index < this.#head + this.maxInFlight) {
      this.#start(index, slot);
      return Promise.resolve(index);
    }
    return new Promise<number>((resolve) => {
      slot.started = () => resolve(index);
    });
  }

  /** No more submissions; iteration ends after the last outcome. Resolves like drain(). */
  close(): Promise<void> {
    this.#closed = true;
    this.#wakeReader();
    return this.drain();
  }

  /** Cancels: running tasks see the signal abort, queued ones finish as "cancelled" without starting. */
  abort(reason?: unknown): void {
    if (this.#controller.signal.aborted) return;
    this.#closed = true;
    this.#controller.abort(reason ?? new InferenceError("cancelled", "ordered queue cancelled"));
    if (this.#onAbort) this.#signal!.removeEventListener("abort", this.#onAbort);
    for (let i = this.#head; i < this.#next; i++) {
      const slot = this.#slots[i - this.#base]!;
      if (slot.started !== undefined) this.#cancelWaiting(i, slot);
    }
    this.#pump();
  }

  /** Resolves when every submission so far has been released; rejects if onResult threw. */
  drain(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure.error);
    if (this.#head === this.#next) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.#drainers.push({ resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<Settled<T>> {
    if (this.#onResult) throw new InferenceError("failed_precondition", "outcomes go to onResult; this queue cannot also be iterated");
    if (this.#iterating) throw new InferenceError("failed_precondition", "this queue is already being iterated (one consumer only)");
    this.#iterating = true;
    return {
      next: () => this.#take(),
      // Leaving a for-await loop early cancels what is still queued: nobody will read it.
      return: async () => {
        this.abort();
        return { done: true, value: undefined };
      },
    };
  }

  #cancelled(what: string): InferenceError {
    const reason: unknown = this.#controller.signal.reason;
    if (reason instanceof InferenceError) return new InferenceError("cancelled", `${what}: ${reason.message}`, { cause: reason });
    return new InferenceError("cancelled", `${what}: ordered queue cancelled`, { cause: reason });
  }

  #start(index: number, slot: Slot<T>): void {
    const task = slot.task!;
    slot.task = undefined;
    this.#running++;
    let result: T | PromiseLike<T>;
    try {
      result = task(this.#controller.signal, index);
    } catch (e) {
      result = Promise.reject(e);
    }
    Promise.resolve(result).then(
      (value) => this.#finish(index, { index, status: "fulfilled", value }),
      (reason: unknown) => this.#finish(index, { index, status: "rejected", reason }),
    );
  }

  /** A submission that never started gets a "cancelled" outcome, and its submit() resolves. */
  #cancelWaiting(index: number, slot: Slot<T>): void {
    const started = slot.started!;
    slot.started = undefined;
    slot.task = undefined;
    slot.outcome = { index, status: "rejected", reason: this.#cancelled(`task ${index}`) };
    started();
  }

  #finish(index: number, outcome: Settled<T>): void {
    this.#running--;
    const slot = this.#slots[index - this.#base];
    if (!slot || slot.outcome !== undefined) return;
    slot.outcome = outcome;
    if (index === this.#head) this.#pump();
  }

  #pumping = false;
  #again = false;

  /** Releases finished outcomes at the head and starts what the window admits; never re-entered. */
  #pump(): void {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        while (this.#head < this.#next) {
          const s = this.#slots[this.#head - this.#base]!;
          if (s.outcome === undefined) break;
          const o = s.outcome;
          s.outcome = undefined;
          this.#head++;
          this.#release(o);
        }
        this.#compact();
        const limit = Math.min(this.#next, this.#head + this.maxInFlight);
        for (let i = this.#head; i < limit; i++) {
          const s = this.#slots[i - this.#base]!;
          if (s.started === undefined) continue;
          if (this.#controller.signal.aborted) {
            this.#cancelWaiting(i, s);
            this.#again = true;
          } else {
            const started = s.started;
            s.started = undefined;
            this.#start(i, s);
            started();
          }
        }
      } while (this.#again);
    } finally {
      this.#pumping = false;
    }
    if (this.#head === this.#next && this.#drainers.length > 0) {
      const drainers = this.#drainers;
      this.#drainers = [];
      for (const d of drainers) d.resolve();
    }
    this.#wakeReader();
  }

  #release(outcome: Settled<T>): void {
    if (this.#failure) return;
    if (!this.#onResult) {
      this.#ready.push(outcome);
      return;
    }
    try {
      this.#onResult(outcome);
    } catch (e) {
      // A consumer that throws cannot take more outcomes: stop, and report its error.
      this.#failure = { error: e };
      this.abort(e);
      const drainers = this.#drainers;
      this.#drainers = [];
      for (const d of drainers) d.reject(e);
    }
  }

  #compact(): void {
    const done = this.#head - this.#base;
    if (done >= 1024 && done * 2 >= this.#slots.length) {
      this.#slots = this.#slots.slice(done);
      this.#base = this.#head;
    }
  }

  #take(): Promise<IteratorResult<Settled<T>>> {
    if (this.#readyHead < this.#ready.length) {
      const value = this.#ready[this.#readyHead]!;
      this.#ready[this.#readyHead++] = undefined as never;
      if (this.#readyHead >= 1024 && this.#readyHead * 2 >= this.#ready.length) {
        this.#ready = this.#ready.slice(this.#readyHead);
        this.#readyHead = 0;
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.#closed && this.#head === this.#next) return Promise.resolve({ done: true, value: undefined });
    if (this.#reader) return Promise.reject(new InferenceError("failed_precondition", "next() called again before the previous one resolved"));
    return new Promise<void>((resolve, reject) => {
      this.#reader = { resolve, reject };
    }).then(() => this.#take());
  }

  #wakeReader(): void {
    const r = this.#reader;
    if (!r) return;
    if (this.#readyHead < this.#ready.length || (this.#closed && this.#head === this.#next)) {
      this.#reader = undefined;
      r.resolve();
    }
  }
}

/** Ordered in-flight inference: `submit(model, inputs, options)` runs client.infer in the window. */
export class OrderedInferQueue implements AsyncIterable<Settled<InferResult>> {
  readonly #client: InferenceClient;
  readonly #queue: OrderedInflight<InferResult>;

  constructor(client: InferenceClient, options: OrderedInflightOptions<InferResult> = {}) {
    if (client === null || typeof client !== "object" || typeof client.infer !== "function")
      throw invalid("orderedInflight: the first argument must be an InferenceClient (createClient(...))");
    this.#client = client;
    this.#queue = new OrderedInflight(options);
  }

  get maxInFlight(): number {
    return this.#queue.maxInFlight;
  }

  get inFlight(): number {
    return this.#queue.inFlight;
  }

  get pending(): number {
    return this.#queue.pending;
  }

  /** Queues client.infer(model, inputs, options); the queue's cancellation is joined to options.signal. */
  submit(model: string, inputs: Tensor[], options?: InferOptions): Promise<number> {
    const client = this.#client;
    return this.#queue.submit((signal) => {
      const own = options?.signal;
      return client.infer(model, inputs, { ...options, signal: own ? AbortSignal.any([own, signal]) : signal });
    });
  }

  close(): Promise<void> {
    return this.#queue.close();
  }

  abort(reason?: unknown): void {
    this.#queue.abort(reason);
  }

  drain(): Promise<void> {
    return this.#queue.drain();
  }

  [Symbol.asyncIterator](): AsyncIterator<Settled<InferResult>> {
    return this.#queue[Symbol.asyncIterator]();
  }
}

/** An ordered in-flight queue of inferences on `client` (see OrderedInferQueue). */
export function orderedInflight(client: InferenceClient, options?: OrderedInflightOptions<InferResult>): OrderedInferQueue {
  return new OrderedInferQueue(client, options);
}

export interface MapOrderedOptions {
  /** Calls of `fn` whose outcome has not been yielded yet. Default 16. */
  concurrency?: number;
  /** Aborting stops pulling inputs and aborts the signal given to running calls. */
  signal?: AbortSignal;
}

/**
 * Maps `source` (an iterable or async iterable) through `fn` with up to `concurrency` calls pending and
 * yields the outcomes in input order, each with its input. The source is pulled only when the window has
 * room, so a slow consumer slows the producer. A failing call is yielded as "rejected" in its place; if the
 * source itself throws, the outcomes before it are yielded and then its error is thrown. Leaving the loop
 * early aborts the signal given to running calls.
 */
export async function* mapOrdered<I, T>(
  source: Iterable<I> | AsyncIterable<I>,
  fn: (input: I, index: number, signal: AbortSignal) => T | PromiseLike<T>,
  options: MapOrderedOptions = {},
): AsyncGenerator<Settled<T> & { input: I }, void, undefined> {
  const concurrency = options.concurrency ?? DEFAULT_MAX_IN_FLIGHT;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1)
    throw invalid(`mapOrdered: concurrency must be a positive integer, got ${String(concurrency)}`);
  if (typeof fn !== "function") throw invalid("mapOrdered: fn must be a function");
  const iterable = source as Partial<AsyncIterable<I> & Iterable<I>>;
  const it: Iterator<I> | AsyncIterator<I> | undefined =
    typeof iterable?.[Symbol.asyncIterator] === "function"
      ? iterable[Symbol.asyncIterator]!()
      : typeof iterable?.[Symbol.iterator] === "function"
        ? iterable[Symbol.iterator]!()
        : undefined;
  if (!it) throw invalid("mapOrdered: source must be an iterable or async iterable");
  const controller = new AbortController();
  const outer = options.signal;
  const onAbort = (): void => controller.abort(outer!.reason);
  if (outer) {
    if (outer.aborted) controller.abort(outer.reason);
    else outer.addEventListener("abort", onAbort, { once: true });
  }
  const window: Promise<Settled<T> & { input: I }>[] = [];
  let windowHead = 0;
  let index = 0;
  let exhausted = false;
  let sourceError: { error: unknown } | undefined;
  try {
    for (;;) {
      while (!exhausted && window.length - windowHead < concurrency && !controller.signal.aborted) {
        let step: IteratorResult<I>;
        try {
          step = await it.next();
        } catch (e) {
          sourceError = { error: e };
          exhausted = true;
          break;
        }
        if (step.done) {
          exhausted = true;
          break;
        }
        const input = step.value;
        const i = index++;
        let p: Promise<T>;
        try {
          p = Promise.resolve(fn(input, i, controller.signal));
        } catch (e) {
          p = Promise.reject(e);
        }
        window.push(
          p.then(
            (value) => ({ index: i, status: "fulfilled" as const, value, input }),
            (reason: unknown) => ({ index: i, status: "rejected" as const, reason, input }),
          ),
        );
      }
      if (windowHead === window.length) break;
      const next = window[windowHead]!;
      window[windowHead++] = undefined as never;
      if (windowHead >= 1024 && windowHead * 2 >= window.length) {
        window.splice(0, windowHead);
        windowHead = 0;
      }
      yield await next;
    }
    if (sourceError) throw sourceError.error;
  } finally {
    if (outer) outer.removeEventListener("abort", onAbort);
    // Whatever is still running is abandoned: let it know. (A no-op when everything was yielded.)
    controller.abort(new InferenceError("cancelled", "mapOrdered: the consumer stopped"));
    if (!exhausted) await it.return?.();
  }
}
