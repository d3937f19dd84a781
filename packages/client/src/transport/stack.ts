// Puts createClient's layers together: per endpoint the protocol transport, traced; the endpoints
// balanced behind one transport; retries on top. Retries sit above balancing so that a retry can go to
// another endpoint; tracing sits below it so that each span is one attempt to one known server.
import type { CallOptions, ClientOptions } from "../api.ts";
import { InferenceError } from "../errors.ts";
import { activeTracer, withTracing } from "../tracing.ts";
import { createBalancedTransport, resolveHealthCheck, type BalancedEndpoint } from "./balanced.ts";
import { withRetries } from "./retrying.ts";
import type { InferEnd, InferRequest, Transport } from "./transport.ts";
import { endWith } from "./infer-end.ts";
import { callBackFrom, type InferCallback } from "./infer-callback.ts";

/** The endpoint URLs of `options.url`: one string or a non-empty list of them. */
export function endpointUrls(url: unknown): string[] {
  const list = typeof url === "string" ? [url] : Array.isArray(url) ? [...(url as unknown[])] : undefined;
  if (!list || list.length === 0 || list.some((u) => typeof u !== "string" || u === ""))
    throw new InferenceError("invalid_argument", `createClient: options.url must be a non-empty string or a non-empty list of them, got ${JSON.stringify(url)}`);
  return list as string[];
}

/**
 * grpc-js channel options for endpoints behind health checks: reconnect backoff capped near the probe
 * period, so a server that comes back is reachable by the next probes (grpc-js's own cap is 120 s).
 */
export function grpcReconnectOptions(options: ClientOptions, endpoints: number): Record<string, number> | undefined {
  const health = resolveHealthCheck(options.healthCheck, endpoints);
  if (!health) return undefined;
  const initial = Math.min(1000, health.intervalMs);
  return { "grpc.initial_reconnect_backoff_ms": initial, "grpc.max_reconnect_backoff_ms": Math.max(initial, health.intervalMs) };
}

/**
 * The traced transport with `inferWith` (transport.ts, InferEnd) when `raw` has it: straight to `raw`
 * while no tracer provider is registered (tracing would pass the call through anyway), else the traced
 * infer with its result mapped once.
 */
function untracedInferWith(traced: Transport, raw: Transport): Transport {
  if (raw.inferWith === undefined) return traced;
  return {
    ...traced,
    inferWith: <T>(req: InferRequest, call: CallOptions, end: InferEnd<T>): Promise<T> =>
      activeTracer() === undefined
        ? raw.inferWith!(req, call, end)
        : endWith(traced.infer(req, call), end),
    ...(raw.inferCallback !== undefined && {
      inferCallback: <T, C>(req: InferRequest, call: CallOptions, end: InferEnd<T>, callback: InferCallback<T, C>, context: C): void =>
        activeTracer() === undefined
          ? raw.inferCallback!(req, call, end, callback, context)
          : callBackFrom(endWith(traced.infer(req, call), end), callback, context),
    }),
  };
}

/** Builds the whole stack; `open` makes the protocol transport of one URL; `options.headers` also go with the probes. */
export function assembleTransport(urls: readonly string[], options: ClientOptions, open: (url: string) => Transport): Transport {
  const endpoints: BalancedEndpoint[] = [];
  try {
    for (const url of urls) {
      const raw = open(url);
      endpoints.push({ transport: options.tracing === false ? raw : untracedInferWith(withTracing(raw), raw), probe: raw });
    }
    const balanced = createBalancedTransport(endpoints, { balance: options.balance, healthCheck: options.healthCheck, probeHeaders: options.headers });
    return withRetries(balanced, options.retry);
  } catch (e) {
    for (const ep of endpoints) void ep.probe!.close().catch(() => {});
    throw e;
  }
}
