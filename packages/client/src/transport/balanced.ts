// One Transport in front of several endpoints of the same protocol. Each call goes to one endpoint
// (round-robin or least-outstanding); an endpoint that fails at the connection level, or fails its
// readiness probe, is ejected and probed in the background until it is ready again. A request that never
// left the client (connection refused) moves on to the next endpoint at once, whatever the call; one
// whose connection broke afterwards is left to the retry layer. The requests of a sequence (stateful
// models) all go to the endpoint their sequence id maps to. Load, unload, settings updates and
// shared-memory registration go to every endpoint; statistics are summed over all of them.
import type { BalancePolicy, CallOptions, EndpointStatus, HealthCheckOptions, ModelStatistics } from "../api.ts";
import { InferenceError } from "../errors.ts";
import { connectionFailure, type ConnectionFailure } from "./connection-failure.ts";
import { deadlineOf } from "./deadline.ts";
import { forwardAll } from "./forwarding.ts";
import { mergeStatistics } from "./merge-statistics.ts";
import { sequenceKey } from "./sequence-key.ts";
import { withAttempts } from "./attempts.ts";
import { openBalancedStream } from "./balanced-stream.ts";
import type { InferEnd, InferRequest, InferResponse, StreamChannel, StreamHandlers, Transport } from "./transport.ts";
import { endWith } from "./infer-end.ts";
import { callBackFrom, callBackLater, type InferCallback } from "./infer-callback.ts";

export interface BalancedEndpoint {
  /** Carries the calls (possibly wrapped, e.g. traced). */
  transport: Transport;
  /** Carries the readiness probes (the bare transport: probes are not traced). Default: `transport`. */
  probe?: Transport;
}

export interface HealthCheck {
  intervalMs: number;
  timeoutMs: number;
  probeHealthy: boolean;
}

export const HEALTH_CHECK_DEFAULTS: HealthCheck = { intervalMs: 1000, timeoutMs: 1000, probeHealthy: true };

/** Probes on by default with several endpoints (there is somewhere else to go), off with one. */
export function resolveHealthCheck(option: HealthCheckOptions | boolean | undefined, endpoints: number): HealthCheck | undefined {
  if (option === false || (option === undefined && endpoints < 2)) return undefined;
  if (option !== undefined && option !== true && (option === null || typeof option !== "object"))
    throw new InferenceError("invalid_argument", `createClient: healthCheck must be an object or a boolean, got ${JSON.stringify(option)}`);
  const o = typeof option === "object" ? option : {};
  const positive = (v: unknown, name: string, fallback: number): number => {
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
      throw new InferenceError("invalid_argument", `createClient: healthCheck.${name} must be a positive number of ms, got ${JSON.stringify(v)}`);
    return v;
  };
  return {
    intervalMs: positive(o.intervalMs, "intervalMs", HEALTH_CHECK_DEFAULTS.intervalMs),
    timeoutMs: positive(o.timeoutMs, "timeoutMs", HEALTH_CHECK_DEFAULTS.timeoutMs),
    probeHealthy: o.probeHealthy ?? HEALTH_CHECK_DEFAULTS.probeHealthy,
  };
}

export function resolveBalancePolicy(policy: unknown): BalancePolicy {
  if (policy === undefined) return "least-outstanding";
  if (policy !== "round-robin" && policy !== "least-outstanding")
    throw new InferenceError("invalid_argument", `createClient: balance must be "round-robin" or "least-outstanding", got ${JSON.stringify(policy)}`);
  return policy;
}

class Endpoint {
  readonly url: string;
  readonly transport: Transport;
  readonly probe: Transport;
  healthy = true;
  outstanding = 0;
  requests = 0;
  failures = 0;
  ejections = 0;
  lastError: string | undefined;
  probing = false;
  /** Set while close() waits for the calls in flight here (idle()): called when the last one settles. */
  whenIdle: (() => void) | undefined = undefined;

  /** Ends an attempt that answered: an answer from an ejected endpoint (tried in panic mode) proves it is back. */
  readonly answered: <T>(result: T) => T;
  /** Ends an attempt that failed: a connection-level failure ejects the endpoint; rejects with the InferenceError. */
  readonly failed: (e: unknown) => never;

  constructor(e: BalancedEndpoint, eject: (ep: Endpoint, failure: ConnectionFailure, message: string) => void) {
    this.url = e.transport.url;
    this.transport = e.transport;
    this.probe = e.probe ?? e.transport;
    this.answered = (result) => {
      if (--this.outstanding === 0 && this.whenIdle !== undefined) this.whenIdle();
      this.healthy = true;
      return result;
    };
    this.failed = (e) => {
      throw this.settleFailure(e);
    };
    this.#eject = eject;
  }

  readonly #eject: (ep: Endpoint, failure: ConnectionFailure, message: string) => void;
  /** The InferEnd of calls on this endpoint by the InferEnd of the layer above (endFor). */
  readonly #ends = new Map<InferEnd<unknown>, EndpointEnd<unknown>>();
  /** The last one endFor gave (one client: always the same). */
  #lastEnd: EndpointEnd<unknown> | undefined = undefined;

  /** Ends a failed attempt (as `failed`) and returns its InferenceError instead of throwing it. */
  settleFailure(e: unknown): InferenceError {
    if (--this.outstanding === 0 && this.whenIdle !== undefined) this.whenIdle();
    const error = InferenceError.from(e);
    const failure = connectionFailure(error);
    if (failure) this.#eject(this, failure, error.message);
    return error;
  }

  /** Resolves once no call (or stream) is in flight on this endpoint. */
  idle(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.whenIdle = () => {
        this.whenIdle = undefined;
        resolve();
      };
    });
  }

  /** `end` with this endpoint's accounting in front: one per layer-above InferEnd, made once. */
  endFor<T>(end: InferEnd<T>): InferEnd<T> {
    const last = this.#lastEnd;
    if (last !== undefined && last.next === end) return last as EndpointEnd<T>;
    let mine = this.#ends.get(end) as EndpointEnd<T> | undefined;
    if (mine === undefined) {
      mine = new EndpointEnd(this, end);
      // The layer above passes one InferEnd per client; a caller making one per call gets no sharing.
      if (this.#ends.size >= 16) this.#ends.clear();
      this.#ends.set(end, mine as EndpointEnd<unknown>);
    }
    this.#lastEnd = mine as EndpointEnd<unknown>;
    return mine;
  }
}

/** An attempt's end on one endpoint, as `answered` / `failed` do it, then the layer above's end. */
class EndpointEnd<T> implements InferEnd<T> {
  readonly #ep: Endpoint;
  readonly next: InferEnd<T>;

  constructor(ep: Endpoint, next: InferEnd<T>) {
    this.#ep = ep;
    this.next = next;
  }

  done(response: InferResponse): T {
    this.#ep.answered(undefined);
    return this.next.done(response);
  }

  failed(error: unknown): unknown {
    return this.next.failed(this.#ep.settleFailure(error));
  }
}

type Attempt<T> = (transport: Transport, call: CallOptions) => Promise<T>;

class Balancer {
  readonly #endpoints: Endpoint[];
  readonly #policy: BalancePolicy;
  readonly #health: HealthCheck | undefined;
  readonly #probeCall: CallOptions;
  #cursor = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(endpoints: readonly BalancedEndpoint[], policy: BalancePolicy, health: HealthCheck | undefined, probeHeaders?: Record<string, string>) {
    this.#endpoints = endpoints.map((e) => new Endpoint(e, (ep, failure, message) => this.#eject(ep, failure, message)));
    this.#policy = policy;
    this.#health = health;
    this.#probeCall = { timeoutMs: health?.timeoutMs, headers: probeHeaders };
    if (health) {
      this.#timer = setInterval(() => this.#probeRound(), health.intervalMs);
      // Probes alone must not keep a process alive.
      this.#timer.unref();
    }
  }

  /**
   * The next endpoint among the healthy ones not in `skip`; when none is healthy, among all of them
   * (panic mode: better to try an ejected endpoint than to fail without trying).
   */
  #pick(skip: readonly Endpoint[] | undefined): Endpoint | undefined {
    return this.#pickFrom(skip, true) ?? this.#pickFrom(skip, false);
  }

  #pickFrom(skip: readonly Endpoint[] | undefined, healthyOnly: boolean): Endpoint | undefined {
    const eps = this.#endpoints;
    const n = eps.length;
    let best: Endpoint | undefined;
    let bestIndex = 0;
    for (let i = 0; i < n; i++) {
      const index = (this.#cursor + i) % n;
      const ep = eps[index]!;
      if ((healthyOnly && !ep.healthy) || skip?.includes(ep)) continue;
      // Round-robin takes the first candidate from the cursor; least-outstanding the least busy, ties
      // going to the first from the cursor so that equal endpoints still take turns.
      if (best === undefined || ep.outstanding < best.outstanding) {
        best = ep;
        bestIndex = index;
        if (this.#policy === "round-robin" || ep.outstanding === 0) break;
      }
    }
    if (best) this.#cursor = (bestIndex + 1) % n;
    return best;
  }

  /** Runs the call on one endpoint, moving on to the next while attempts fail before being sent. */
  one<T>(call: CallOptions, attempt: Attempt<T>): Promise<T> {
    return this.#endpoints.length === 1 ? this.#on(this.#endpoints[0]!, call, attempt) : this.#failover(call, attempt);
  }

  async #failover<T>(call: CallOptions, attempt: Attempt<T>): Promise<T> {
    const deadline = deadlineOf(call);
    let tried: Endpoint[] | undefined;
    let last: InferenceError | undefined;
    for (let attempts = 1; ; attempts++) {
      const ep = this.#pick(tried);
      if (!ep) throw withAttempts(last!, attempts - 1);
      try {
        return await this.#on(ep, deadline && tried ? deadline.callFor(call) : call, attempt);
      } catch (e) {
        const error = InferenceError.from(e);
        const sendable = connectionFailure(error) === "not_sent" && !call.signal?.aborted && !deadline?.expired();
        if (!sendable || this.#closed) throw withAttempts(error, attempts);
        last = error;
        (tried ??= []).push(ep);
      }
    }
  }

  /**
   * Runs one attempt on `ep`, counting it as outstanding until it settles. Not an async function: the
   * endpoint's settle handlers (made once per endpoint) follow the attempt's promise, so a call in flight
   * costs one promise reaction here instead of a suspended frame.
   */
  #on<T>(ep: Endpoint, call: CallOptions, attempt: Attempt<T>): Promise<T> {
    ep.outstanding++;
    ep.requests++;
    let pending: Promise<T>;
    try {
      pending = attempt(ep.transport, call);
    } catch (e) {
      pending = Promise.reject(e);
    }
    return pending.then(ep.answered as (result: T) => T, ep.failed);
  }

  /**
   * infer ended by `end` (transport.ts, InferEnd): on one endpoint (the only one, or the one a sequence
   * maps to) the endpoint's accounting is applied where the answer settles, no promise of its own; with
   * fail-over between endpoints it runs as `one` and maps the result once.
   */
  inferWith<T>(req: InferRequest, call: CallOptions, end: InferEnd<T>): Promise<T> {
    const sequence = sequenceKey(req.parameters);
    if (this.#endpoints.length > 1 && sequence === undefined)
      return endWith(this.#failover(call, (t, c) => t.infer(req, c)), end);
    const ep = sequence === undefined ? this.#endpoints[0]! : this.#pinnedEndpoint(sequence);
    ep.outstanding++;
    ep.requests++;
    const mine = ep.endFor(end);
    try {
      return ep.transport.inferWith!(req, call, mine);
    } catch (e) {
      return Promise.reject(mine.failed(e));
    }
  }
  /** inferWith by a callback: passed down as it is where inferWith is (one endpoint or a pinned sequence). */
  inferCallback<T, C>(req: InferRequest, call: CallOptions, end: InferEnd<T>, callback: InferCallback<T, C>, context: C): void {
    const sequence = sequenceKey(req.parameters);
    if (this.#endpoints.length > 1 && sequence === undefined) return callBackFrom(this.inferWith(req, call, end), callback, context);
    const ep = sequence === undefined ? this.#endpoints[0]! : this.#pinnedEndpoint(sequence);
    ep.outstanding++;
    ep.requests++;
    const mine = ep.endFor(end);
    try {
      ep.transport.inferCallback!(req, call, mine, callback, context);
    } catch (e) {
      callBackLater(callback, mine.failed(e), context);
    }
  }


  /** Runs the call on every endpoint; rejects naming each endpoint that failed. */
  async all<T>(what: string, call: CallOptions, attempt: Attempt<T>): Promise<T[]> {
    if (this.#endpoints.length === 1) return [await this.#on(this.#endpoints[0]!, call, attempt)];
    const settled = await Promise.allSettled(this.#endpoints.map((ep) => this.#on(ep, call, attempt)));
    const failed: { url: string; error: InferenceError }[] = [];
    settled.forEach((s, i) => {
      if (s.status === "rejected") failed.push({ url: this.#endpoints[i]!.url, error: InferenceError.from(s.reason) });
    });
    if (failed.length === 0) return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
    const first = failed[0]!.error;
    const list = failed.map((f) => `${f.url}: ${f.error.message}`).join("; ");
    throw new InferenceError(first.code, `${what} failed on ${failed.length} of ${settled.length} endpoints: ${list}`, {
      httpStatus: first.httpStatus,
      grpcCode: first.grpcCode,
      cause: first,
    });
  }

  #eject(ep: Endpoint, why: ConnectionFailure | "not_ready", message: string): void {
    ep.failures++;
    ep.lastError = why === "not_ready" ? message : `${why === "not_sent" ? "connection failed" : "connection lost"}: ${message}`;
    if (!ep.healthy) return;
    ep.healthy = false;
    ep.ejections++;
  }

  #restore(ep: Endpoint): void {
    ep.healthy = true;
  }

  #probeRound(): void {
    const health = this.#health!;
    for (const ep of this.#endpoints) if (!ep.probing && (!ep.healthy || health.probeHealthy)) void this.#probeOne(ep);
  }

  async #probeOne(ep: Endpoint): Promise<void> {
    ep.probing = true;
    try {
      const ready = await ep.probe.serverReady(this.#probeCall);
      if (this.#closed) return;
      if (ready) this.#restore(ep);
      else this.#eject(ep, "not_ready", "readiness probe: server is not ready");
    } catch (e) {
      if (this.#closed) return;
      const error = InferenceError.from(e);
      this.#eject(ep, connectionFailure(error) ?? "not_ready", `readiness probe: ${error.message}`);
    } finally {
      ep.probing = false;
    }
  }

  status(): EndpointStatus[] {
    return this.#endpoints.map((ep) => ({
      url: ep.url,
      state: ep.healthy ? "healthy" : "ejected",
      outstanding: ep.outstanding,
      requests: ep.requests,
      failures: ep.failures,
      ejections: ep.ejections,
      ...(ep.lastError === undefined ? {} : { lastError: ep.lastError }),
    }));
  }

  /**
   * Runs a request of a stateful sequence on the endpoint its id maps to: the sequence's state lives on
   * that server, so the request neither fails over nor follows the balancing policy.
   */
  pinned<T>(key: string, call: CallOptions, attempt: Attempt<T>): Promise<T> {
    return this.#on(this.#pinnedEndpoint(key), call, attempt);
  }

  #pinnedEndpoint(key: string): Endpoint {
    // FNV-1a: a stable spread of ids over the endpoints, the same for every client with this URL list.
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return this.#endpoints[(h >>> 0) % this.#endpoints.length]!;
  }

  /** Opens a stream on one endpoint by the policy, outstanding there while open (balanced-stream.ts). */
  stream(call: CallOptions, handlers: StreamHandlers): StreamChannel {
    return openBalancedStream<Endpoint>(
      {
        size: this.#endpoints.length,
        pick: (skip) => this.#pick(skip),
        eject: (ep, failure, message) => this.#eject(ep, failure, message),
        closed: () => this.#closed,
      },
      call,
      handlers,
    );
  }

  /** Picks an endpoint for a method this layer does not know (forwarded as it is, no fail-over). */
  route(): Transport {
    return (this.#pick(undefined) ?? this.#endpoints[0]!).transport;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    // Calls in flight finish before the connections close, on every protocol: HTTP's pools wait for them
    // anyway, while a gRPC channel closed under a call it has not started yet fails it as "unavailable".
    await Promise.all(this.#endpoints.map((ep) => ep.idle()));
    await Promise.all(this.#endpoints.map((ep) => ep.transport.close()));
  }
}

export interface BalancedTransportOptions {
  balance?: BalancePolicy | undefined;
  healthCheck?: HealthCheckOptions | boolean | undefined;
  /** Headers of every readiness probe: the client's constant headers (credentials included). */
  probeHeaders?: Record<string, string> | undefined;
}

/** One Transport over `endpoints` (at least one, all of the same protocol). */
export function createBalancedTransport(endpoints: readonly BalancedEndpoint[], options: BalancedTransportOptions = {}): Transport {
  const first = endpoints[0];
  if (!first) throw new InferenceError("invalid_argument", "createClient: no endpoint URL given");
  const mixed = endpoints.find((e) => e.transport.protocol !== first.transport.protocol);
  if (mixed)
    throw new InferenceError(
      "invalid_argument",
      `createClient: all endpoints must use one protocol; ${first.transport.url} is ${first.transport.protocol}, ${mixed.transport.url} is ${mixed.transport.protocol}`,
    );
  const b = new Balancer(endpoints, resolveBalancePolicy(options.balance), resolveHealthCheck(options.healthCheck, endpoints.length), options.probeHeaders);
  const stats = async (req: Parameters<Transport["modelStatistics"]>[0], call: CallOptions): Promise<ModelStatistics[]> =>
    endpoints.length === 1
      ? b.one(call, (t, c) => t.modelStatistics(req, c))
      : mergeStatistics(await b.all(`modelStatistics(${req.model ?? ""})`, call, (t, c) => t.modelStatistics(req, c)));
  return {
    ...forwardAll(first.transport, () => b.route()),
    protocol: first.transport.protocol,
    url: first.transport.url,
    serverLive: (call) => b.one(call, (t, c) => t.serverLive(c)),
    serverReady: (call) => b.one(call, (t, c) => t.serverReady(c)),
    modelReady: (ref, call) => b.one(call, (t, c) => t.modelReady(ref, c)),
    serverMetadata: (call) => b.one(call, (t, c) => t.serverMetadata(c)),
    modelMetadata: (ref, call) => b.one(call, (t, c) => t.modelMetadata(ref, c)),
    modelConfig: (ref, call) => b.one(call, (t, c) => t.modelConfig(ref, c)),
    modelStatistics: stats,
    loadModel: async (req, call) => {
      await b.all(`loadModel(${req.model})`, call, (t, c) => t.loadModel(req, c));
    },
    unloadModel: async (ref, call) => {
      await b.all(`unloadModel(${ref.model})`, call, (t, c) => t.unloadModel(ref, c));
    },
    repositoryIndex: (ready, call) => b.one(call, (t, c) => t.repositoryIndex(ready, c)),
    // Settings are per server: reads come from one endpoint, updates go to all (the first one's answer is returned).
    traceSettings: async (model, update, call) =>
      update === undefined
        ? b.one(call, (t, c) => t.traceSettings(model, update, c))
        : (await b.all(`updateTraceSettings(${model ?? ""})`, call, (t, c) => t.traceSettings(model, update, c)))[0]!,
    logSettings: async (update, call) =>
      update === undefined
        ? b.one(call, (t, c) => t.logSettings(update, c))
        : (await b.all("updateLogSettings", call, (t, c) => t.logSettings(update, c)))[0]!,
    // A region must be registered with whichever server an infer lands on: registration goes to all.
    systemSharedMemoryRegister: async (req, call) => {
      await b.all(`registerSystemSharedMemory(${req.name})`, call, (t, c) => t.systemSharedMemoryRegister(req, c));
    },
    systemSharedMemoryUnregister: async (name, call) => {
      await b.all(`unregisterSystemSharedMemory(${name ?? ""})`, call, (t, c) => t.systemSharedMemoryUnregister(name, c));
    },
    systemSharedMemoryStatus: (name, call) => b.one(call, (t, c) => t.systemSharedMemoryStatus(name, c)),
    infer: (req, call) => {
      const sequence = sequenceKey(req.parameters);
      return sequence === undefined ? b.one(call, (t, c) => t.infer(req, c)) : b.pinned(sequence, call, (t, c) => t.infer(req, c));
    },
    // Only when every endpoint's transport offers it (transport.ts, InferEnd).
    ...(endpoints.every((e) => e.transport.inferWith !== undefined) && {
      inferWith: <T>(req: InferRequest, call: CallOptions, end: InferEnd<T>) => b.inferWith(req, call, end),
    }),
    ...(endpoints.every((e) => e.transport.inferWith !== undefined && e.transport.inferCallback !== undefined) && {
      inferCallback: <T, C>(req: InferRequest, call: CallOptions, end: InferEnd<T>, callback: InferCallback<T, C>, context: C) =>
        b.inferCallback(req, call, end, callback, context),
    }),
    ...(first.transport.openStream && { openStream: (call: CallOptions, handlers: StreamHandlers) => b.stream(call, handlers) }),
    endpoints: () => b.status(),
    close: () => b.close(),
  };
}
