// W3C trace context on gRPC inference streams, against the reference server: one CLIENT span per stream
// (child of the context active at open, events per message, counts and status at close), its
// traceparent in the stream's metadata as it crossed the wire (a recording HTTP/2 proxy), and the
// server's own SERVER spans of the stream's requests parented on it (the server records into the SDK this
// process registers). The first test runs before any SDK is registered.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode, context, trace } from "@opentelemetry/api";
import type { InMemorySpanExporter, ReadableSpan } from "@opentelemetry/sdk-trace-node";
import { Tensor, createClient, type ClientOptions, type InferStream, type StreamResponse } from "@iaas/client";
import { referenceServerForFile } from "./client-fixtures.ts";
import { startGrpcRecordingProxy, type GrpcRecordingProxy } from "./recording-proxy.ts";
import { freePort, waitFor } from "./resilience-helpers.ts";
import { registerSdk } from "../packages/client/test/support/otel-sdk.ts";

const ref = referenceServerForFile({ traceSettings: { trace_level: ["TIMESTAMPS"], trace_rate: 1 } });

const STREAM_SPAN = "KServe ModelStreamInfer";
const row = Int32Array.from({ length: 16 }, (_, i) => i);
const simpleInputs = (): Tensor[] => [new Tensor("INPUT0", "INT32", [1, 16], row), new Tensor("INPUT1", "INT32", [1, 16], row)];
const repeatInputs = (values: number[]): Tensor[] => [
  new Tensor("IN", "INT32", [values.length], Int32Array.from(values)),
  new Tensor("DELAY", "UINT32", [values.length], new Uint32Array(values.length)),
  new Tensor("WAIT", "UINT32", [1], Uint32Array.of(0)),
];

async function drain(stream: InferStream): Promise<StreamResponse[]> {
  const items: StreamResponse[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

/** A client whose gRPC traffic goes through a recording proxy to the reference server. */
async function proxied(t: TestContext, options: Partial<ClientOptions> = {}): Promise<{ proxy: GrpcRecordingProxy; client: ReturnType<typeof createClient> }> {
  const proxy = await startGrpcRecordingProxy(ref.srv.grpcUrl);
  const client = createClient({ url: `grpc://${proxy.address}`, retry: false, ...options });
  t.after(async () => {
    await client.close();
    await proxy.close();
  });
  return { proxy, client };
}

const streamCalls = (proxy: GrpcRecordingProxy) => proxy.calls.filter((c) => c.path === "/inference.GRPCInferenceService/ModelStreamInfer");

// A tracer provider keeping finished spans in memory (the server's too), undone when the test ends.
const streamSpans = (exporter: InMemorySpanExporter): ReadableSpan[] =>
  exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT && s.name === STREAM_SPAN);

test("no tracer provider registered: a stream sends no traceparent and works as before", async (t) => {
  const { proxy, client } = await proxied(t);
  const stream = client.stream();
  stream.send("simple", simpleInputs());
  stream.end();
  const items = await drain(stream);
  assert.equal(items.length, 1);
  assert.equal(items[0]?.type, "result");
  const [call] = streamCalls(proxy);
  assert.ok(call, "the stream crossed the proxy");
  assert.equal(call.headers.traceparent, undefined);
  assert.equal(call.headers.tracestate, undefined);
});

test("with an SDK: one CLIENT span per stream under the active span, its traceparent in the metadata, server spans under it", async (t) => {
  const exporter = registerSdk(t);
  const { proxy, client } = await proxied(t);
  const user = trace.getTracer("stream-tracing-test").startSpan("user operation");
  const stream = context.with(trace.setSpan(context.active(), user), () => client.stream());
  stream.send("simple", simpleInputs(), { id: "a" });
  stream.send("simple", simpleInputs(), { id: "b" });
  stream.send("repeat_int32", repeatInputs([4, 8, 15]), { id: "c" });
  stream.end();
  const items = await drain(stream);
  user.end();
  // simple: 1 response each; repeat_int32: 3 responses and the empty final one.
  assert.equal(items.length, 6);

  const spans = streamSpans(exporter);
  assert.equal(spans.length, 1, "one span for the whole stream");
  const span = spans[0]!;
  const userCtx = user.spanContext();
  assert.equal(span.spanContext().traceId, userCtx.traceId);
  assert.equal(span.parentSpanContext?.spanId, userCtx.spanId, "parent is the span active at open");
  assert.equal(span.kind, SpanKind.CLIENT);
  assert.equal(span.status.code, SpanStatusCode.UNSET);
  const [host, port] = proxy.address.split(":");
  assert.deepEqual(
    { ...span.attributes },
    {
      "rpc.system": "grpc",
      "rpc.service": "inference.GRPCInferenceService",
      "rpc.method": "ModelStreamInfer",
      "server.address": host,
      "server.port": Number(port),
      "rpc.grpc.status_code": 0,
      "kserve.stream.requests": 3,
      "kserve.stream.responses": 6,
      "kserve.stream.errors": 0,
    },
  );
  const events = span.events.map((e) => [e.name, e.attributes?.["rpc.message.type"], e.attributes?.["rpc.message.id"], e.attributes?.["kserve.request.id"]]);
  assert.deepEqual(events, [
    ["rpc.message", "SENT", 1, "a"],
    ["rpc.message", "SENT", 2, "b"],
    ["rpc.message", "SENT", 3, "c"],
    ["rpc.message", "RECEIVED", 1, "a"],
    ["rpc.message", "RECEIVED", 2, "b"],
    ["rpc.message", "RECEIVED", 3, "c"],
    ["rpc.message", "RECEIVED", 4, "c"],
    ["rpc.message", "RECEIVED", 5, "c"],
    ["rpc.message", "RECEIVED", 6, "c"],
  ]);
  assert.deepEqual(
    span.events.slice(5).map((e) => e.attributes?.["triton.final_response"]),
    [false, false, false, true],
  );

  // The metadata as it crossed the wire carries the stream span's context.
  const [call] = streamCalls(proxy);
  assert.equal(call?.headers.traceparent, `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);

  // The server parents the SERVER span of each request of the stream on the stream's traceparent.
  await waitFor("three server spans", () => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER).length >= 3);
  const server = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
  assert.equal(server.length, 3);
  for (const s of server) {
    assert.equal(s.spanContext().traceId, span.spanContext().traceId);
    assert.equal(s.parentSpanContext?.spanId, span.spanContext().spanId);
  }
  assert.deepEqual(server.map((s) => s.attributes["kserve.request.id"]).sort(), ["a", "b", "c"]);
});

test("inferDecoupled: a span named for its model; an in-band error is an event; cancel() ends the span with an error", async (t) => {
  const exporter = registerSdk(t);
  const { client } = await proxied(t);

  const results = [];
  for await (const r of client.inferDecoupled("repeat_int32", repeatInputs([1, 2]))) results.push(r);
  assert.equal(results.length, 2);
  // The generator is done at the final response; the stream (and its span) ends with the server's status.
  await waitFor("the decoupled stream's span", () => streamSpans(exporter).length === 1);
  let [span] = streamSpans(exporter);
  assert.equal(span?.attributes["kserve.model.name"], "repeat_int32");
  assert.equal(span?.attributes["kserve.stream.responses"], 3);
  assert.equal(span?.status.code, SpanStatusCode.UNSET);

  exporter.reset();
  const failing = client.stream();
  failing.send("no_such_model", simpleInputs(), { id: "x" });
  failing.end();
  const items = await drain(failing);
  assert.equal(items[0]?.type, "error");
  [span] = streamSpans(exporter);
  assert.equal(span?.attributes["kserve.stream.errors"], 1);
  assert.equal(span?.attributes["kserve.stream.responses"], 0);
  // One request failed; the stream itself ended OK.
  assert.equal(span?.status.code, SpanStatusCode.UNSET);
  const received = span?.events.find((e) => e.attributes?.["rpc.message.type"] === "RECEIVED");
  assert.equal(received?.attributes?.["kserve.request.id"], "x");
  assert.match(String(received?.attributes?.["error.message"]), /no_such_model/);

  exporter.reset();
  const cancelled = client.stream();
  cancelled.send("repeat_int32", [
    new Tensor("IN", "INT32", [2], Int32Array.of(1, 2)),
    new Tensor("DELAY", "UINT32", [2], Uint32Array.of(5000, 5000)),
    new Tensor("WAIT", "UINT32", [1], Uint32Array.of(0)),
  ]);
  setTimeout(() => cancelled.cancel(), 50);
  await assert.rejects(drain(cancelled), { code: "cancelled" });
  await waitFor("the cancelled stream's span", () => streamSpans(exporter).length === 1);
  [span] = streamSpans(exporter);
  assert.equal(span?.status.code, SpanStatusCode.ERROR);
  assert.equal(span?.attributes["error.type"], "cancelled");
  assert.equal(span?.attributes["kserve.stream.requests"], 1);
});

test("tracing: false: no stream span and no traceparent, even with an SDK", async (t) => {
  const exporter = registerSdk(t);
  const { proxy, client } = await proxied(t, { tracing: false });
  const stream = context.with(trace.setSpan(context.active(), trace.getTracer("t").startSpan("user")), () => client.stream());
  stream.send("simple", simpleInputs());
  stream.end();
  await drain(stream);
  assert.equal(streamSpans(exporter).length, 0);
  assert.equal(streamCalls(proxy)[0]?.headers.traceparent, undefined);
});

test("several endpoints: a stream refused by a dead endpoint moves on; each attempt is a span under the same parent", async (t) => {
  const exporter = registerSdk(t);
  const dead = await freePort();
  const client = createClient({ url: [`grpc://127.0.0.1:${dead}`, `grpc://${ref.srv.grpcUrl}`], balance: "round-robin", healthCheck: false, retry: false });
  t.after(() => client.close());
  const user = trace.getTracer("stream-tracing-test").startSpan("user operation");
  const stream = context.with(trace.setSpan(context.active(), user), () => client.stream());
  stream.send("simple", simpleInputs(), { id: "moved" });
  stream.end();
  const items = await drain(stream);
  user.end();
  assert.equal(items.length, 1);
  assert.equal(items[0]?.type, "result");
  const spans = streamSpans(exporter);
  assert.equal(spans.length, 2);
  const [refused, served] = spans as [ReadableSpan, ReadableSpan];
  for (const s of spans) assert.equal(s.parentSpanContext?.spanId, user.spanContext().spanId);
  assert.equal(refused.attributes["server.port"], dead);
  assert.equal(refused.status.code, SpanStatusCode.ERROR);
  assert.equal(refused.attributes["error.type"], "unavailable");
  assert.equal(served.attributes["server.port"], ref.srv.grpcPort);
  assert.equal(served.status.code, SpanStatusCode.UNSET);
  assert.equal(served.attributes["kserve.stream.requests"], 1, "the request sent before the failure went out again on the second endpoint");
  assert.equal(served.attributes["kserve.stream.responses"], 1);
});
