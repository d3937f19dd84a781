// `iaas bench --otlp-endpoint URL --trace-rate R`: registers the OpenTelemetry Node SDK in the bench process
// so that the client's tracing layer gives every request its own CLIENT span and W3C traceparent (the server
// continues the trace), and exports the sampled spans over OTLP/HTTP (JSON) to URL. Sampling decides per trace
// (TraceIdRatioBased): unsampled requests still carry a traceparent, with the sampled flag off, so the server
// does not record them either. Spans are batched off the hot path and flushed when the run ends.
import { trace, context, propagation } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider, TraceIdRatioBasedSampler, type SpanProcessor } from "@opentelemetry/sdk-trace-node";
import { VERSION } from "../version.ts";
import { DEFAULT_TRACE_RATE, tracesUrl } from "./trace-options.ts";

// Re-exported for modules that imported them from here (serve-tracing.ts); new code: ./trace-options.ts.
export { DEFAULT_TRACE_RATE, parseTraceRate, tracesUrl } from "./trace-options.ts";

export interface BenchTracingOptions {
  /** OTLP/HTTP collector: http(s)://host:port (then /v1/traces is appended) or the full traces URL. Absent: no export. */
  endpoint?: string;
  /** Fraction of traces sampled, 0..1. Default DEFAULT_TRACE_RATE. */
  rate?: number;
  /** service.name of the exported spans. Default "iaas-bench". */
  serviceName?: string;
}

export interface BenchTracing {
  readonly endpoint: string | undefined;
  readonly rate: number;
  /** Exports what is still buffered and unregisters the SDK. */
  shutdown(): Promise<void>;
}

export function startBenchTracing(options: BenchTracingOptions): BenchTracing {
  const rate = options.rate ?? DEFAULT_TRACE_RATE;
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`trace rate must be between 0 and 1, got ${rate}`);
  const url = options.endpoint !== undefined ? tracesUrl(options.endpoint) : undefined;
  const spanProcessors: SpanProcessor[] = url
    ? [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { maxQueueSize: 65_536, maxExportBatchSize: 2048, scheduledDelayMillis: 1000 })]
    : [];
  const provider = new NodeTracerProvider({
    sampler: new TraceIdRatioBasedSampler(rate),
    resource: resourceFromAttributes({ "service.name": options.serviceName ?? "iaas-bench", "service.version": VERSION }),
    spanProcessors,
  });
  provider.register();
  return {
    endpoint: url,
    rate,
    async shutdown() {
      try {
        await provider.forceFlush();
        await provider.shutdown();
      } finally {
        trace.disable();
        context.disable();
        propagation.disable();
      }
    },
  };
}
