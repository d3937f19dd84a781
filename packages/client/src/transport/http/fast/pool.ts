// The fast HTTP/1.1 path's connection pool: up to `connections` keep-alive sockets, one request each at
// a time, requests beyond that wait in a FIFO queue. Idle connections are reused most recent first and
// dropped once idle longer than their keep-alive time (checked when taken, and by one unref'd sweep).
import type { CollectedResponse } from "../dispatch.ts";
import { FastConnection, type ConnectionOwner, type ConnectionSettings } from "./connection.ts";
import { bodyDetached, clientClosed } from "./errors.ts";
import { CallbackExchange, Exchange, checkRequest, resolvablePromise, takenResolveFunction, type ExchangeFinish, type FastRequest, type RequestBody } from "./exchange.ts";
import { unwatchAbort, watchAbort, type AbortTarget } from "../../abort-watch.ts";
import { DEADLINE_PASSED } from "../../call-scope.ts";
import { deadlines, type DeadlineTarget } from "../../deadline-queue.ts";
import { callBackLater, type InferCallback } from "../../infer-callback.ts";

export interface FastPoolSettings extends ConnectionSettings {
  connections: number;
}

const SWEEP_MS = 1000;

/**
 * In the queue, before the compact requests that share it: their prefix and finish, for requests made
 * with a callback (requestCallback) that callback, whether they have deadlines, and their signal. A run of
 * requests to one model (the usual load) then costs one of these, and each request two queue slots (and a
 * due time if timed).
 */
class QueueRun {
  readonly prefix: Uint8Array;
  readonly finish: ExchangeFinish<unknown>;
  readonly callback: InferCallback<unknown, unknown> | undefined;
  /** Its requests have deadlines, kept in the pool's #dues. */
  readonly timed: boolean;
  readonly signal: AbortSignal | null;
  /** The pool's watch on `signal` that counts this run's requests (replaced once one that ended is needed again). */
  watch: QueuedSignal | undefined = undefined;
  constructor(prefix: Uint8Array, finish: ExchangeFinish<unknown>, callback: InferCallback<unknown, unknown> | undefined, timed: boolean, signal: AbortSignal | null) {
    this.prefix = prefix;
    this.finish = finish;
    this.callback = callback;
    this.timed = timed;
    this.signal = signal;
  }
}

/**
 * The pool's one abort watch on a signal while compact requests carrying it wait (calls usually share one
 * signal: a watch per request would cost a watcher entry each). When the signal fires, the pool fails those
 * requests in one pass over its queue.
 */
class QueuedSignal implements AbortTarget {
  readonly signal: AbortSignal;
  readonly #pool: FastPool;
  /** Compact requests waiting with this signal. */
  waiting = 0;
  /** Watched (false once the signal fired or no request with it was left). */
  live = true;
  constructor(signal: AbortSignal, pool: FastPool) {
    this.signal = signal;
    this.#pool = pool;
    watchAbort(signal, this);
  }
  aborted(): void {
    this.live = false;
    this.#pool.queuedSignalFired(this);
  }
}

/** A compact request's body as the queue holds it (queuedBody). */
type QueuedBody = RequestBody | ArrayBuffer;

/**
 * Typed arrays up to this size may live inside their view object (V8 allocates the ArrayBuffer only when
 * `.buffer` is read): for them the view is kept, as reading `.buffer` would make an object, not save one.
 */
const VIEW_MAX_IN_HEAP = 64;

/**
 * What the queue keeps of a compact request's body while it waits. A caller's tensor data is usually a typed
 * array spanning the whole of its own ArrayBuffer; then the buffer alone is kept and the view object (~100 B
 * a request) is let go: a caller that drops its inputs after calling (an event loop) frees it, and one that
 * keeps them holds the same buffer anyway. A view over part of a buffer (a Buffer from Node's pool), a
 * resizable or shared buffer, and small arrays are kept as they are.
 */
function queuedBody(body: RequestBody): QueuedBody {
  if (body === null || typeof body === "string" || !ArrayBuffer.isView(body) || body.byteLength <= VIEW_MAX_IN_HEAP || body.byteOffset !== 0) return body;
  const buffer = body.buffer;
  return buffer instanceof ArrayBuffer && !buffer.resizable && buffer.byteLength === body.byteLength ? buffer : body;
}

/** The body to send for what queuedBody kept (a buffer transferred meanwhile: no bytes, as its view would have). */
function sentBody(kept: QueuedBody): RequestBody {
  if (!(kept instanceof ArrayBuffer)) return kept;
  return kept.detached ? new Uint8Array(0) : new Uint8Array(kept);
}

/**
 * Whether a body waiting in the queue lost its bytes (an ArrayBuffer transferred by the caller): sent, it
 * would be shorter than its head says, and the server would wait for the rest. Only an empty view can be
 * a detached one, so the usual body costs one length check.
 */
function detached(body: QueuedBody): boolean {
  if (body === null || typeof body === "string") return false;
  if (body instanceof ArrayBuffer) return body.detached;
  if (ArrayBuffer.isView(body)) return body.byteLength === 0 && body.buffer instanceof ArrayBuffer && body.buffer.detached;
  for (let i = 0; i < body.length; i++) if (detached(body[i]!)) return true;
  return false;
}

export class FastPool implements ConnectionOwner, DeadlineTarget {
  readonly #settings: FastPoolSettings;
  readonly #all = new Set<FastConnection>();
  /** Ready connections without a request, most recently used last. */
  readonly #idle: FastConnection[] = [];
  /**
   * Requests waiting for a connection, two slots each: an Exchange and an empty slot; or a request held
   * compactly (a POST with a `prefix` and a finish; its deadline and signal, if any, are its run's and the
   * pool's to watch) as its body and its promise's resolve function (with a callback: its context), made an
   * Exchange only when a connection takes it or its deadline passes or its signal fires; or a
   * QueueRun and an empty slot, giving the prefix and finish of the compact requests after it; or two
   * empty slots where an Exchange was that settled while it waited (aborted, timed out: the queue lets go
   * of it, and of its request, at once). #head: the first slot of the first entry not yet taken.
   */
  #queue: unknown[] = [];
  #head = 0;
  /** The run of the last compact request pushed, and the one in effect at #head. */
  #tailRun: QueueRun | undefined = undefined;
  #headRun: QueueRun | undefined = undefined;
  /**
   * Deadlines of compact requests in timed runs (performance.now() time), at index i / 2 for the request at
   * queue index i (unboxed doubles: 8 B a timed request, instead of an Exchange in the deadline queue).
   * Compact timed requests are queued in order of their deadlines (one that would come earlier than the last
   * becomes an Exchange), so the first one left is the next to pass: the pool itself is in the deadline queue,
   * once, for that one (deadlineSlot) while any wait (#timedWaiting).
   */
  #dues: number[] = [];
  #lastDue = -Infinity;
  #timedWaiting = 0;
  /** Where the first compact timed request still queued may be (>= #head when used), and the run in effect there. */
  #timedFrom = 0;
  #timedFromRun: QueueRun | undefined = undefined;
  deadlineSlot = 0;
  /** The live watch of each signal carried by compact requests in the queue. */
  readonly #signalWatches = new Map<AbortSignal, QueuedSignal>();
  #connecting = 0;
  /** Live (unsettled) requests in the queue. */
  #waiting = 0;
  #inFlight = 0;
  #closed = false;
  #drained: (() => void) | undefined = undefined;
  #sweeper: NodeJS.Timeout | undefined = undefined;

  constructor(settings: FastPoolSettings) {
    this.#settings = settings;
  }

  /**
   * Sends one request; resolves with status, headers and body chunks, rejects on connection errors or
   * abort. With `finish`, resolves with what finish.done makes of the answer and rejects with what
   * finish.failed makes of an error. A `head` or `prefix` in the options is trusted: its checks are the caller's.
   */
  request(options: FastRequest): Promise<CollectedResponse>;
  request<T>(options: FastRequest, finish: ExchangeFinish<T>): Promise<T>;
  request(options: FastRequest, finish?: ExchangeFinish<unknown>): Promise<unknown> {
    const refused = this.#refusal(options);
    if (refused !== undefined) return Promise.reject(finish === undefined ? refused : finish.failed(refused));
    this.#inFlight++;
    const conn = this.#takeIdle();
    if (conn === undefined) {
      const due = this.#compactDue(options, finish);
      if (due !== undefined) {
        // Queued compactly: its body and resolve function after the run of its prefix and finish (see #queue).
        const promise = resolvablePromise();
        this.#pushCompact(options.prefix!, finish!, undefined, options.body, takenResolveFunction(), due, options.timeoutMs, options.signal);
        return promise;
      }
    }
    const ex = new Exchange(options, finish, this);
    const promise = ex.start();
    this.#dispatch(ex, conn);
    return promise;
  }

  /**
   * request() without a promise: `callback(error, value, context)` once, with finish.done's result or
   * finish.failed's error, never before this returns. A queued compact request holds its body and
   * `context` (the callback is kept once per run of requests that share it).
   */
  requestCallback<T, C>(options: FastRequest, finish: ExchangeFinish<T>, callback: InferCallback<T, C>, context: C): void {
    const refused = this.#refusal(options);
    if (refused !== undefined) return callBackLater(callback, finish.failed(refused), context);
    const back = callback as InferCallback<unknown, unknown>;
    this.#inFlight++;
    const conn = this.#takeIdle();
    if (conn === undefined) {
      const due = this.#compactDue(options, finish);
      if (due !== undefined) {
        this.#pushCompact(options.prefix!, finish as ExchangeFinish<unknown>, back, options.body, context, due, options.timeoutMs, options.signal);
        return;
      }
    }
    // A request made with a callback ends by it (CallbackExchange: no closure per request).
    const ex = new CallbackExchange(options, finish as ExchangeFinish<unknown>, this, back, context);
    if (options.signal !== null) watchAbort(options.signal, ex);
    this.#dispatch(ex, conn);
  }

  /**
   * Whether a request that waits can be queued compactly: NaN if so without a deadline, its due time if so
   * with one (not earlier than the last compact timed request's), undefined if it must be an Exchange.
   */
  #compactDue(options: FastRequest, finish: ExchangeFinish<unknown> | undefined): number | undefined {
    if (options.prefix === undefined || finish === undefined || options.method !== "POST" || options.body === undefined) return undefined;
    const timeoutMs = options.timeoutMs;
    if (timeoutMs === undefined) return NaN;
    const due = performance.now() + timeoutMs;
    return due >= this.#lastDue ? due : undefined;
  }

  #pushCompact(
    prefix: Uint8Array,
    finish: ExchangeFinish<unknown>,
    callback: InferCallback<unknown, unknown> | undefined,
    body: RequestBody,
    second: unknown,
    due: number,
    timeoutMs: number | undefined,
    signal: AbortSignal | null,
  ): void {
    this.#waiting++;
    const timed = timeoutMs !== undefined;
    let run = this.#tailRun;
    const q = this.#queue;
    if (run === undefined || run.prefix !== prefix || run.finish !== finish || run.callback !== callback || run.timed !== timed || run.signal !== signal)
      q.push((this.#tailRun = run = new QueueRun(prefix, finish, callback, timed, signal)), undefined);
    if (signal !== null) this.#countOnSignal(run, signal);
    if (timed) {
      // Zeros for the entries before it without a due time: an array written past its end goes sparse.
      const dues = this.#dues;
      const at = q.length >> 1;
      while (dues.length < at) dues.push(0);
      dues[at] = due;
      this.#lastDue = due;
      this.#timedWaiting++;
      if (this.deadlineSlot === 0) deadlines.add(this, timeoutMs);
    }
    q.push(queuedBody(body), second);
    this.#grow();
  }

  /**
   * The deadline of the first compact timed request left passed (or one taken since: the pool's place in the
   * deadline queue is not moved when a connection takes that request). Every queued one due by now fails as
   * its Exchange would have, in queue order; the pool waits again for the next.
   */
  deadlinePassed(): void {
    const q = this.#queue;
    const dues = this.#dues;
    let i = this.#timedFrom;
    let run = this.#timedFromRun;
    if (i < this.#head) {
      i = this.#head;
      run = this.#headRun;
    }
    const now = performance.now();
    for (; this.#timedWaiting > 0 && i < q.length; i += 2) {
      const first = q[i];
      if (first instanceof QueueRun) {
        run = first;
        continue;
      }
      // Holes (taken or settled), Exchanges and untimed compact requests have no due time here.
      if (first === undefined || first instanceof Exchange || !run!.timed) continue;
      const due = dues[i >> 1]!;
      if (due > now) {
        this.#timedFrom = i;
        this.#timedFromRun = run;
        deadlines.add(this, due - now);
        return;
      }
      const ex = this.#compactExchange(run!, first as QueuedBody, q[i + 1], undefined);
      q[i] = q[i + 1] = undefined;
      this.#leaveQueue(run!);
      ex.fail(DEADLINE_PASSED);
    }
    this.#timedFrom = i;
    this.#timedFromRun = run;
  }

  /** One more compact request with `signal` waits: counted on the signal's watch (made when none is live). */
  #countOnSignal(run: QueueRun, signal: AbortSignal): void {
    let watch = run.watch;
    if (watch === undefined || !watch.live) {
      watch = this.#signalWatches.get(signal);
      if (watch === undefined) this.#signalWatches.set(signal, (watch = new QueuedSignal(signal, this)));
      run.watch = watch;
    }
    watch.waiting++;
  }

  /** A compact request with its run's signal left the queue: the watch goes with the last one. */
  #uncountOnSignal(run: QueueRun): void {
    const watch = run.watch!;
    if (--watch.waiting > 0 || !watch.live) return;
    watch.live = false;
    this.#signalWatches.delete(watch.signal);
    unwatchAbort(watch.signal, watch);
  }

  /**
   * A signal carried by compact requests in the queue fired (QueuedSignal): each of them fails, in queue
   * order, as its Exchange would have on an abort, and is never sent.
   */
  queuedSignalFired(watch: QueuedSignal): void {
    const signal = watch.signal;
    this.#signalWatches.delete(signal);
    const reason: unknown = signal.reason ?? new Error("aborted");
    const q = this.#queue;
    let run = this.#headRun;
    for (let i = this.#head; watch.waiting > 0 && i < q.length; i += 2) {
      const first = q[i];
      if (first instanceof QueueRun) {
        run = first;
        continue;
      }
      if (first === undefined || first instanceof Exchange || run!.signal !== signal) continue;
      const ex = this.#compactExchange(run!, first as QueuedBody, q[i + 1], undefined);
      q[i] = q[i + 1] = undefined;
      this.#leaveQueue(run!);
      ex.fail(reason);
    }
  }

  /** A compact request of `run` left the queue (taken, or failed while waiting): the counts that watch it. */
  #leaveQueue(run: QueueRun): void {
    this.#waiting--;
    if (run.timed && --this.#timedWaiting === 0 && this.deadlineSlot !== 0) deadlines.remove(this);
    if (run.signal !== null) this.#uncountOnSignal(run);
  }

  /**
   * The Exchange of a compact request (its run, body and resolve function or context); `timeoutMs` from now.
   * Without `signal` (the default) it does not watch the run's signal: for a request failed from the queue.
   */
  #compactExchange(run: QueueRun, kept: QueuedBody, second: unknown, timeoutMs: number | undefined, signal: AbortSignal | null = null): Exchange {
    const body = sentBody(kept);
    return run.callback === undefined
      ? Exchange.compact(run.prefix, body, run.finish, second as (r: unknown) => void, this, timeoutMs, signal)
      : CallbackExchange.compactCallback(run.prefix, body, run.finish, run.callback, second, this, timeoutMs, signal);
  }

  #dispatch(ex: Exchange, conn: FastConnection | undefined): void {
    if (conn !== undefined) conn.send(ex);
    else {
      this.#enqueue(ex, false);
      this.#grow();
    }
  }

  /** Why a request cannot be sent (closed pool, aborted signal, invalid head), or undefined. */
  #refusal(options: FastRequest): unknown {
    let refused: unknown = undefined;
    if (this.#closed) refused = clientClosed();
    else if (options.signal?.aborted) refused = options.signal.reason ?? new Error("aborted");
    else if (options.head === undefined && options.prefix === undefined) {
      try {
        checkRequest(options.path, options.headers);
      } catch (e) {
        refused = e;
      }
    }
    return refused;
  }

  #enqueue(ex: Exchange, front: boolean): void {
    ex.queued = true;
    this.#waiting++;
    if (front) {
      // Everything after the head moves by one entry, due times and the timed scan's start with it.
      this.#queue.splice(this.#head, 0, ex, undefined);
      if (this.#dues.length > this.#head >> 1) this.#dues.splice(this.#head >> 1, 0, 0);
      if (this.#timedFrom >= this.#head) this.#timedFrom += 2;
    } else this.#queue.push(ex, undefined);
  }

  /** Opens a connection when requests wait that the connections being opened will not take. */
  #grow(): void {
    if (this.#all.size >= this.#settings.connections) return;
    if (this.#connecting >= this.#waiting) return;
    this.#connecting++;
    this.#all.add(new FastConnection(this, this.#settings));
  }

  #takeIdle(): FastConnection | undefined {
    const idle = this.#idle;
    if (idle.length === 0) return undefined;
    const now = performance.now();
    while (idle.length > 0) {
      const conn = idle.pop()!;
      if (conn.usable && now - conn.idleSince < conn.keepAliveMs) return conn;
      conn.destroy();
    }
    return undefined;
  }

  #nextQueued(): Exchange | undefined {
    const q = this.#queue;
    while (this.#head < q.length) {
      const i = this.#head;
      const first = q[i];
      this.#head = i + 2;
      if (first === undefined) continue;
      if (first instanceof Exchange) {
        q[i] = undefined;
        if (first.settled) continue;
        first.queued = false;
        this.#waiting--;
        if (detached(first.body)) {
          first.fail(bodyDetached());
          continue;
        }
        return first;
      }
      if (first instanceof QueueRun) {
        q[i] = undefined;
        this.#headRun = first;
        continue;
      }
      const run = this.#headRun!;
      const second = q[i + 1];
      q[i] = q[i + 1] = undefined;
      // A timed one keeps what is left of its deadline; one whose deadline passed meanwhile (the pool's
      // timer not run yet) fails now instead of being sent, as does one whose body was detached. One with
      // a signal watches it from now on (before the queue's watch may go, so the signal keeps its listener).
      const left = run.timed ? this.#dues[i >> 1]! - performance.now() : Infinity;
      if (left <= 0 || detached(first as QueuedBody)) {
        const unsent = this.#compactExchange(run, first as QueuedBody, second, undefined);
        this.#leaveQueue(run);
        unsent.fail(left <= 0 ? DEADLINE_PASSED : bodyDetached());
        continue;
      }
      const signal = run.signal;
      const ex = this.#compactExchange(run, first as QueuedBody, second, run.timed ? left : undefined, signal);
      if (signal !== null) watchAbort(signal, ex);
      this.#leaveQueue(run);
      return ex;
    }
    // Empty: start over instead of letting the array grow (with #head at 0 nothing was queued since the last time).
    if (this.#head > 0) {
      this.#queue = [];
      this.#head = 0;
      if (this.#dues.length > 0) this.#dues = [];
      this.#lastDue = -Infinity;
      this.#timedFrom = 0;
      this.#timedFromRun = undefined;
    }
    this.#tailRun = this.#headRun = undefined;
    return undefined;
  }

  onReady(conn: FastConnection): void {
    this.#connecting--;
    this.onIdle(conn);
  }

  onIdle(conn: FastConnection): void {
    const next = this.#nextQueued();
    if (next !== undefined) {
      conn.send(next);
      return;
    }
    conn.idleSince = performance.now();
    this.#idle.push(conn);
    this.#startSweeper();
    this.#checkDrained();
  }

  onGone(conn: FastConnection, exchange: Exchange | undefined, error: Error | undefined): void {
    this.#all.delete(conn);
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    if (!conn.ready) {
      this.#connecting--;
      // No connection could be made: with no connection up, the server is unreachable for the requests
      // that wait too. They fail now (as undici fails a client's pending requests) instead of waiting
      // for connections that are being opened to the same unreachable address.
      if (error !== undefined && !this.#anyReady()) {
        for (let ex = this.#nextQueued(); ex !== undefined; ex = this.#nextQueued()) ex.fail(error);
      }
    }
    if (exchange !== undefined && !exchange.settled) {
      // A reused connection the server closed before any byte of the answer: the request very likely
      // never reached it (keep-alive close race). Idempotent requests get one more try on a fresh one.
      if (conn.served > 0 && conn.answeredNothing && !exchange.retried && exchange.method === "GET") {
        exchange.retried = true;
        exchange.onAbort = undefined;
        const idle = this.#takeIdle();
        if (idle !== undefined) idle.send(exchange);
        else this.#enqueue(exchange, true);
      } else {
        exchange.fail(error ?? new Error("connection closed"));
      }
    }
    if (this.#waiting > 0) this.#grow();
    this.#checkDrained();
  }

  #anyReady(): boolean {
    for (const c of this.#all) if (c.ready) return true;
    return false;
  }

  /** One request fewer in flight (answered, failed or aborted). */
  onSettled(ex: Exchange): void {
    if (ex.queued) {
      ex.queued = false;
      this.#waiting--;
      this.#drop(ex);
    }
    this.#inFlight--;
    if (this.#inFlight === 0) this.#checkDrained();
  }

  /**
   * Empties the slots of a queued Exchange that settled. Holes at the head are passed at once, so that
   * calls aborted oldest first (a shared signal, deadlines) are each found at the head.
   */
  #drop(ex: Exchange): void {
    const q = this.#queue;
    for (let i = this.#head; i < q.length; i += 2) {
      if (q[i] === ex) {
        q[i] = undefined;
        break;
      }
    }
    let head = this.#head;
    while (head < q.length && q[head] === undefined && q[head + 1] === undefined) head += 2;
    this.#head = head;
  }

  #startSweeper(): void {
    if (this.#sweeper !== undefined) return;
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_MS);
    this.#sweeper.unref();
  }

  #sweep(): void {
    const now = performance.now();
    const idle = this.#idle;
    for (let i = idle.length - 1; i >= 0; i--) {
      const conn = idle[i]!;
      if (now - conn.idleSince >= conn.keepAliveMs || !conn.usable) {
        idle.splice(i, 1);
        conn.destroy();
      }
    }
    if (idle.length === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #checkDrained(): void {
    if (this.#drained !== undefined && this.#inFlight === 0) {
      const done = this.#drained;
      this.#drained = undefined;
      done();
    }
  }

  /** Refuses new requests, lets those in flight or queued finish, then closes every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#idle.length = 0;
    for (const conn of this.#all) conn.destroy();
    this.#all.clear();
  }
}
