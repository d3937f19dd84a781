// W3C trace context and OpenTelemetry CLIENT spans, as a layer around one endpoint's Transport, through
// @opentelemetry/api only: the application registers an SDK (tracer provider, propagator, context
// manager) and every call then gets a span, child of the active context, whose context is injected into
// the HTTP headers / gRPC metadata (traceparent, tracestate). With no tracer provider registered a call
// costs one check and allocates nothing.
import {
  ProxyTracerProvider,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Span,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import type { CallOptions } from "./api.ts";
import { InferenceError } from "./errors.ts";
import { forwardAll } from "./transport/forwarding.ts";
import type { ModelRef, StreamChannel, StreamHandlers, Transport } from "./transport/transport.ts";
import { openTracedStream } from "./streaming/stream-tracing.ts";

export const TRACER_NAME = "@iaas/client";

// The API's stand-in provider while no SDK is registered (the same instance for every proxy).
const NOOP_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();
let cached: { provider: TracerProvider; tracer: Tracer } | undefined;

/** The registered SDK's tracer, or undefined when no tracer provider is registered. */
export function activeTracer(): Tracer | undefined {
  const global = trace.getTracerProvider();
  // Our copy of the API wraps the registered provider in a proxy; another copy's registration shows as
  // a provider of its own class, used as it is.
  const provider = global instanceof ProxyTracerProvider ? global.getDelegate() : global;
  if (provider === NOOP_PROVIDER) return undefined;
  if (cached?.provider !== provider) cached = { provider, tracer: provider.getTracer(TRACER_NAME) };
  return cached.tracer;
}

/** server.address / server.port of a transport URL (http(s)://host:port[/prefix] or host:port). */
function serverAttributes(url: string): Attributes {
  try {
    const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `grpc://${url}`);
    const port = u.port === "" ? (u.protocol === "https:" ? 443 : 80) : Number(u.port);
    return { "server.address": u.hostname.replace(/^\[|\]$/g, ""), "server.port": port };
  } catch {
    return { "server.address": url };
  }
}

function endSpan(span: Span, error: unknown, grpc: boolean): void {
  if (error === undefined) {
    if (grpc) span.setAttribute("rpc.grpc.status_code", 0);
  } else {
    const e = InferenceError.from(error);
    span.setAttribute("error.type", e.code);
    if (e.grpcCode !== undefined) span.setAttribute("rpc.grpc.status_code", e.grpcCode);
    if (e.httpStatus !== undefined) span.setAttribute("http.response.status_code", e.httpStatus);
    span.recordException(e);
    span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
  }
  span.end();
}

/**
 * Wraps one endpoint's transport: each call of a known operation runs in a CLIENT span named
 * `KServe <RPC>` (the GRPCInferenceService method name, for both protocols) carrying rpc.system,
 * rpc.service, rpc.method, server.address, server.port, kserve.model.name / kserve.model.version, and on
 * failure error.type (the InferenceError code), the HTTP status or gRPC code, and an ERROR status.
 */
export function withTracing(inner: Transport): Transport {
  const grpc = inner.protocol === "grpc";
  const base: Attributes = {
    "rpc.system": inner.protocol,
    "rpc.service": "inference.GRPCInferenceService",
    ...serverAttributes(inner.url),
  };

  function run<T>(tracer: Tracer, method: string, ref: Partial<ModelRef> | undefined, call: CallOptions, fn: (c: CallOptions) => Promise<T>): Promise<T> {
    const attributes: Attributes = { ...base, "rpc.method": method };
    if (ref?.model) attributes["kserve.model.name"] = ref.model;
    if (ref?.version) attributes["kserve.model.version"] = ref.version;
    const parent = context.active();
    const span = tracer.startSpan(`KServe ${method}`, { kind: SpanKind.CLIENT, attributes }, parent);
    const ctx = trace.setSpan(parent, span);
    const headers: Record<string, string> = { ...call.headers };
    propagation.inject(ctx, headers);
    let pending: Promise<T>;
    try {
      // Run inside the span's context so that instrumentation below (undici, http2) nests under it.
      pending = context.with(ctx, fn, undefined, { ...call, headers });
    } catch (e) {
      endSpan(span, e, grpc);
      throw e;
    }
    return pending.then(
      (result) => {
        endSpan(span, undefined, grpc);
        return result;
      },
      (e: unknown) => {
        endSpan(span, e ?? new Error("rejected without a reason"), grpc);
        throw e;
      },
    );
  }

  return {
    ...forwardAll(inner),
    protocol: inner.protocol,
    url: inner.url,
    serverLive(call) {
      const t = activeTracer();
      return t ? run(t, "ServerLive", undefined, call, (c) => inner.serverLive(c)) : inner.serverLive(call);
    },
    serverReady(call) {
      const t = activeTracer();
      return t ? run(t, "ServerReady", undefined, call, (c) => inner.serverReady(c)) : inner.serverReady(call);
    },
    modelReady(ref, call) {
      const t = activeTracer();
      return t ? run(t, "ModelReady", ref, call, (c) => inner.modelReady(ref, c)) : inner.modelReady(ref, call);
    },
    serverMetadata(call) {
      const t = activeTracer();
      return t ? run(t, "ServerMetadata", undefined, call, (c) => inner.serverMetadata(c)) : inner.serverMetadata(call);
    },
    modelMetadata(ref, call) {
      const t = activeTracer();
      return t ? run(t, "ModelMetadata", ref, call, (c) => inner.modelMetadata(ref, c)) : inner.modelMetadata(ref, call);
    },
    modelConfig(ref, call) {
      const t = activeTracer();
      return t ? run(t, "ModelConfig", ref, call, (c) => inner.modelConfig(ref, c)) : inner.modelConfig(ref, call);
    },
    modelStatistics(req, call) {
      const t = activeTracer();
      return t ? run(t, "ModelStatistics", req, call, (c) => inner.modelStatistics(req, c)) : inner.modelStatistics(req, call);
    },
    loadModel(req, call) {
      const t = activeTracer();
      return t ? run(t, "RepositoryModelLoad", req, call, (c) => inner.loadModel(req, c)) : inner.loadModel(req, call);
    },
    unloadModel(ref, call) {
      const t = activeTracer();
      return t ? run(t, "RepositoryModelUnload", ref, call, (c) => inner.unloadModel(ref, c)) : inner.unloadModel(ref, call);
    },
    repositoryIndex(ready, call) {
      const t = activeTracer();
      return t ? run(t, "RepositoryIndex", undefined, call, (c) => inner.repositoryIndex(ready, c)) : inner.repositoryIndex(ready, call);
    },
    traceSettings(model, update, call) {
      const t = activeTracer();
      return t
        ? run(t, "TraceSetting", model === undefined ? undefined : { model }, call, (c) => inner.traceSettings(model, update, c))
        : inner.traceSettings(model, update, call);
    },
    logSettings(update, call) {
      const t = activeTracer();
      return t ? run(t, "LogSettings", undefined, call, (c) => inner.logSettings(update, c)) : inner.logSettings(update, call);
    },
    systemSharedMemoryRegister(req, call) {
      const t = activeTracer();
      return t
        ? run(t, "SystemSharedMemoryRegister", undefined, call, (c) => inner.systemSharedMemoryRegister(req, c))
        : inner.systemSharedMemoryRegister(req, call);
    },
    systemSharedMemoryUnregister(name, call) {
      const t = activeTracer();
      return t
        ? run(t, "SystemSharedMemoryUnregister", undefined, call, (c) => inner.systemSharedMemoryUnregister(name, c))
        : inner.systemSharedMemoryUnregister(name, call);
    },
    systemSharedMemoryStatus(name, call) {
      const t = activeTracer();
      return t
        ? run(t, "SystemSharedMemoryStatus", undefined, call, (c) => inner.systemSharedMemoryStatus(name, c))
        : inner.systemSharedMemoryStatus(name, call);
    },
    infer(req, call) {
      const t = activeTracer();
      return t ? run(t, "ModelInfer", req, call, (c) => inner.infer(req, c)) : inner.infer(req, call);
    },
    // gRPC streams: one span per stream, from open to close (streaming/stream-tracing.ts).
    ...(inner.openStream && {
      openStream(call: CallOptions, handlers: StreamHandlers): StreamChannel {
        const t = activeTracer();
        return t
          ? openTracedStream(t, base, (span, e) => endSpan(span, e, grpc), (c, h) => inner.openStream!(c, h), call, handlers)
          : inner.openStream!(call, handlers);
      },
    }),
    close: () => inner.close(),
  };
}
