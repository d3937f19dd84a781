// The OpenTelemetry Node SDK for one test: a tracer provider with an in-memory exporter, registered
// globally, shut down and unregistered (trace, context, propagation) when the test ends, so that the
// next test starts with no provider. Used by the client's tracing tests here and in the root test/.
import type { TestContext } from "node:test";
import { context, propagation, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";

/** Registers the SDK for the duration of `t`; returns the exporter that collects the finished spans. */
export function registerSdk(t: TestContext): InMemorySpanExporter {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  t.after(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });
  return exporter;
}
