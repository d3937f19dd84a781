// Retries with exponential backoff and jitter, as a layer around a Transport. Idempotent calls (health,
// metadata, config, statistics, repository index, reads of trace/log settings, shared-memory status) are
// retried on the configured codes; infer only when asked to, and only
// after connection-level failures; load/unload never (the balancing layer may still send a request that
// never left to another endpoint). All attempts and backoff sleeps share the caller's deadline and
// AbortSignal.
import type { CallOptions, RetryEvent, RetryJitter, RetryOptions } from "../api.ts";
import { ERROR_CODES, InferenceError, type ErrorCode } from "../errors.ts";
import { cancelledError, deadlineError } from "./call-scope.ts";
import { sequenceKey } from "./sequence-key.ts";
import { connectionFailure } from "./connection-failure.ts";
import { deadlineOf } from "./deadline.ts";
import { forwardAll } from "./forwarding.ts";
import { withAttempts } from "./attempts.ts";
import type { InferEnd, InferRequest, Transport } from "./transport.ts";
import type { InferCallback } from "./infer-callback.ts";

export interface RetryPolicy {
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
  jitter: RetryJitter;
  retryOn: ReadonlySet<ErrorCode>;
  retryInfer: boolean;
  onRetry: ((event: RetryEvent) => void) | undefined;
}

export const RETRY_DEFAULTS = {
  attempts: 3,
  initialDelayMs: 50,
  maxDelayMs: 2000,
  multiplier: 2,
  jitter: "full",
  retryOn: ["unavailable"],
  retryInfer: false,
} as const;

function number(value: unknown, name: string, fallback: number, check: (n: number) => boolean, expected: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !check(value))
    throw new InferenceError("invalid_argument", `createClient: retry.${name} must be ${expected}, got ${JSON.stringify(value)}`);
  return value;
}

/** Checks the options and fills in the defaults; `false` gives a policy of one attempt. */
export function resolveRetryPolicy(options: RetryOptions | false | undefined): RetryPolicy {
  if (options !== undefined && options !== false && (options === null || typeof options !== "object"))
    throw new InferenceError("invalid_argument", `createClient: retry must be an object or false, got ${JSON.stringify(options)}`);
  const o = options || {};
  const attempts = number(o.attempts, "attempts", options === false ? 1 : RETRY_DEFAULTS.attempts, (n) => Number.isSafeInteger(n) && n >= 1, "an integer >= 1");
  const initialDelayMs = number(o.initialDelayMs, "initialDelayMs", RETRY_DEFAULTS.initialDelayMs, (n) => Number.isFinite(n) && n >= 0, "a finite number >= 0");
  const maxDelayMs = number(o.maxDelayMs, "maxDelayMs", Math.max(RETRY_DEFAULTS.maxDelayMs, initialDelayMs), (n) => Number.isFinite(n) && n >= initialDelayMs, `a finite number >= initialDelayMs (${initialDelayMs})`);
  const multiplier = number(o.multiplier, "multiplier", RETRY_DEFAULTS.multiplier, (n) => Number.isFinite(n) && n >= 1, "a finite number >= 1");
  const jitter = o.jitter ?? RETRY_DEFAULTS.jitter;
  if (jitter !== "full" && jitter !== "equal" && jitter !== "none")
    throw new InferenceError("invalid_argument", `createClient: retry.jitter must be "full", "equal" or "none", got ${JSON.stringify(jitter)}`);
  const retryOn = o.retryOn ?? RETRY_DEFAULTS.retryOn;
  if (!Array.isArray(retryOn) || retryOn.some((c) => !(ERROR_CODES as readonly string[]).includes(c)))
    throw new InferenceError("invalid_argument", `createClient: retry.retryOn must be a list of error codes (${ERROR_CODES.join(", ")}), got ${JSON.stringify(retryOn)}`);
  if (o.onRetry !== undefined && typeof o.onRetry !== "function")
    throw new InferenceError("invalid_argument", "createClient: retry.onRetry must be a function");
  return {
    attempts,
    initialDelayMs,
    maxDelayMs,
    multiplier,
    jitter,
    retryOn: new Set(retryOn),
    retryInfer: o.retryInfer === true,
    onRetry: o.onRetry,
  };
}

/** Backoff before retry number `retry` (1 = the first retry). */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const d = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** (retry - 1));
  if (policy.jitter === "full") return random() * d;
  if (policy.jitter === "equal") return d / 2 + (random() * d) / 2;
  return d;
}

type Retryable = (error: InferenceError) => boolean;

class Retrier {
  readonly #policy: RetryPolicy;
  // Aborted by close(), which ends every backoff sleep at once.
  readonly #closing = new AbortController();

  constructor(policy: RetryPolicy) {
    this.#policy = policy;
  }

  async run<T>(what: string, call: CallOptions, retryable: Retryable, attempt: (call: CallOptions) => Promise<T>): Promise<T> {
    const deadline = deadlineOf(call);
    let attempts = 0;
    for (let round = 1; ; round++) {
      let error: InferenceError;
      try {
        return await attempt(round === 1 || !deadline ? call : deadline.callFor(call));
      } catch (e) {
        error = InferenceError.from(e);
      }
      // A balancing layer below may already have failed over to other endpoints within this round.
      attempts += error.attempts;
      // The attempts' only timeout is what is left of the caller's deadline, so a deadline error made by
      // the client (no server status on it) means the caller's deadline has passed.
      if (deadline && error.code === "deadline_exceeded" && error.httpStatus === undefined && error.grpcCode === undefined)
        throw attempts === 1 ? error : withAttempts(deadlineError(what, deadline.timeoutMs), attempts);
      if (round >= this.#policy.attempts || !retryable(error) || call.signal?.aborted || this.#closing.signal.aborted)
        throw withAttempts(error, attempts);
      const delayMs = backoffDelay(this.#policy, round);
      if (deadline && delayMs >= deadline.remaining())
        throw withAttempts(error, attempts, `the ${deadline.timeoutMs} ms deadline leaves no time for another`);
      this.#policy.onRetry?.({ operation: what, attempts, delayMs, error });
      await this.#sleep(delayMs, call.signal, what, attempts);
    }
  }

  #sleep(ms: number, signal: AbortSignal | undefined, what: string, attempts: number): Promise<void> {
    const closing = this.#closing.signal;
    return new Promise<void>((resolve, reject) => {
      const stop = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", stop);
        closing.removeEventListener("abort", stop);
        if (signal?.aborted) reject(withAttempts(cancelledError(what, signal.reason), attempts, "cancelled during retry backoff"));
        else reject(new InferenceError("failed_precondition", `${what}: the client was closed during retry backoff (${attempts} attempts)`, { attempts }));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", stop);
        closing.removeEventListener("abort", stop);
        resolve();
      }, ms);
      if (signal?.aborted || closing.aborted) return stop();
      signal?.addEventListener("abort", stop, { once: true });
      closing.addEventListener("abort", stop, { once: true });
    });
  }

  close(): void {
    this.#closing.abort();
  }
}

/**
 * Wraps `inner` with retries per `options` (see RetryOptions); returns `inner` itself when the policy
 * allows a single attempt, so a client without retries pays nothing.
 */
export function withRetries(inner: Transport, options: RetryOptions | false | undefined): Transport {
  const policy = resolveRetryPolicy(options);
  if (policy.attempts <= 1) return inner;
  const retrier = new Retrier(policy);
  const onCodes: Retryable = (e) => policy.retryOn.has(e.code);
  const onConnection: Retryable = (e) => connectionFailure(e) !== undefined;
  // A sequence step whose connection broke may have advanced the sequence's state on the server.
  const onNotSent: Retryable = (e) => connectionFailure(e) === "not_sent";
  return {
    ...forwardAll(inner),
    protocol: inner.protocol,
    url: inner.url,
    serverLive: (call) => retrier.run("isServerLive", call, onCodes, (c) => inner.serverLive(c)),
    serverReady: (call) => retrier.run("isServerReady", call, onCodes, (c) => inner.serverReady(c)),
    modelReady: (ref, call) => retrier.run(`isModelReady(${ref.model})`, call, onCodes, (c) => inner.modelReady(ref, c)),
    serverMetadata: (call) => retrier.run("serverMetadata", call, onCodes, (c) => inner.serverMetadata(c)),
    modelMetadata: (ref, call) => retrier.run(`modelMetadata(${ref.model})`, call, onCodes, (c) => inner.modelMetadata(ref, c)),
    modelConfig: (ref, call) => retrier.run(`modelConfig(${ref.model})`, call, onCodes, (c) => inner.modelConfig(ref, c)),
    modelStatistics: (req, call) =>
      retrier.run(`modelStatistics(${req.model ?? ""})`, call, onCodes, (c) => inner.modelStatistics(req, c)),
    repositoryIndex: (ready, call) => retrier.run("repositoryIndex", call, onCodes, (c) => inner.repositoryIndex(ready, c)),
    // Reads of the settings are retried, updates are not.
    traceSettings: (model, update, call) =>
      update === undefined
        ? retrier.run("traceSettings", call, onCodes, (c) => inner.traceSettings(model, update, c))
        : inner.traceSettings(model, update, call),
    logSettings: (update, call) =>
      update === undefined ? retrier.run("logSettings", call, onCodes, (c) => inner.logSettings(update, c)) : inner.logSettings(update, call),
    systemSharedMemoryStatus: (name, call) =>
      retrier.run("systemSharedMemoryStatus", call, onCodes, (c) => inner.systemSharedMemoryStatus(name, c)),
    loadModel: (req, call) => inner.loadModel(req, call),
    unloadModel: (ref, call) => inner.unloadModel(ref, call),
    infer: policy.retryInfer
      ? (req, call) =>
          retrier.run(`infer(${req.model})`, call, sequenceKey(req.parameters) === undefined ? onConnection : onNotSent, (c) => inner.infer(req, c))
      : (req, call) => inner.infer(req, call),
    // Without infer retries this layer adds nothing to infer: the ended road goes straight through.
    ...(!policy.retryInfer &&
      inner.inferWith !== undefined && {
        inferWith: <T>(req: InferRequest, call: CallOptions, end: InferEnd<T>) => inner.inferWith!(req, call, end),
      }),
    ...(!policy.retryInfer &&
      inner.inferCallback !== undefined && {
        inferCallback: <T, C>(req: InferRequest, call: CallOptions, end: InferEnd<T>, callback: InferCallback<T, C>, context: C) =>
          inner.inferCallback!(req, call, end, callback, context),
      }),
    close: async () => {
      retrier.close();
      await inner.close();
    },
  };
}
