// The OpenTelemetry SDK for `iaas serve --otlp-endpoint`: the server library only talks to
// @opentelemetry/api; this registers, for the serve process, a NodeTracerProvider (service.name
// "iaas-server") whose spans go through a BatchSpanProcessor to an OTLP/HTTP (JSON) exporter, together
// with the W3C trace-context propagator (so server spans continue the clients' traces) and the
// AsyncLocalStorage context manager.
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { UsageError } from "../commands/errors.ts";
import { tracesUrl } from "./bench-tracing.ts";

export const SERVE_SERVICE_NAME = "iaas-server";
/** How long finished spans wait for their batch (the SDK's default is 5 s; a shorter wait shows traces sooner). */
const EXPORT_DELAY_MS = 1000;

/** The OTLP/HTTP traces URL of --otlp-endpoint (bench's rule: a bare origin gets /v1/traces); a bad URL is a usage error. */
export function otlpTracesUrl(endpoint: string): string {
  try {
    return tracesUrl(endpoint);
  } catch (err) {
    throw new UsageError(`--otlp-endpoint: ${(err as Error).message}`);
  }
}

export interface ServeTracing {
  /** Exports what is still buffered and stops the provider. */
  shutdown(): Promise<void>;
}

export function registerServeTracing(endpoint: string): ServeTracing {
  const exporter = new OTLPTraceExporter({ url: otlpTracesUrl(endpoint) });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": SERVE_SERVICE_NAME }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: EXPORT_DELAY_MS })],
  });
  // Default registration: W3C trace context + baggage propagators, AsyncLocalStorage context manager.
  provider.register();
  return { shutdown: () => provider.shutdown() };
}
