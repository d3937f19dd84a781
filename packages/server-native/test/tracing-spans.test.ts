// OpenTelemetry SERVER spans of sampled requests. The test process registers the Node SDK (in-memory
// exporter, W3C propagator) which both @iaas/client (CLIENT spans, traceparent sent in headers / metadata)
// and the server (SERVER span + queue/compute children, parent extracted from what arrived) record into.
// Sampling follows the trace settings: trace_rate, trace_count, trace_level OFF.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SpanKind, SpanStatusCode, type HrTime } from "@opentelemetry/api";
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-node";
import { createClient, Tensor, type InferenceClient } from "@iaas/client";
import { startServer, DEFAULT_MODEL_REPOSITORY, type RunningServer } from "../src/server.ts";
import { INFER_SPAN_NAME, SERVER_TRACER_NAME } from "../src/tracing/infer-spans.ts";
import * as grpc from "@grpc/grpc-js";
import { grpcClient, tempRepository } from "./helpers.ts";
import { repeatRequest, shippedConfig } from "./stream-helpers.ts";

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const repo = tempRepository({ simple: readFileSync(join(DEFAULT_MODEL_REPOSITORY, "simple", "config.pbtxt"), "utf8"), repeat_int32: shippedConfig("repeat_int32") });
let srv: RunningServer;
let clients: Record<"http" | "grpc", InferenceClient>;

before(async () => {
  provider.register();
  srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, metrics: false, traceSettings: { trace_level: ["TIMESTAMPS"], trace_rate: 1 } });
  clients = {
    http: createClient({ url: srv.httpUrl, protocol: "http", retry: false }),
    grpc: createClient({ url: srv.grpcUrl, protocol: "grpc", retry: false }),
  };
});
after(async () => {
  await clients.http.close();
  await clients.grpc.close();
  await srv.close();
  await provider.shutdown();
  repo.remove();
});
beforeEach(async () => {
  // Back to the start settings: every request traced, no count limit.
  srv.server.trace.update({ trace_level: ["TIMESTAMPS"], trace_rate: "1", trace_count: "-1" });
  exporter.reset();
});

const a = new Int32Array(32).map((_, i) => i);
const inputs = [new Tensor("INPUT0", "INT32", [2, 16], a), new Tensor("INPUT1", "INT32", [2, 16], a)];
const ns = (t: HrTime): bigint => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
const serverSpans = (): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
const clientSpans = (): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT && s.name === "KServe ModelInfer");

for (const protocol of ["http", "grpc"] as const) {
  describe(`over ${protocol}`, () => {
    test("the SERVER span continues the client's trace and has queue/compute children in order", async () => {
      await clients[protocol].infer("simple", inputs, { id: `req-${protocol}` });
      const [server] = serverSpans();
      const [client] = clientSpans();
      assert.ok(server && client, "one client and one server span");
      assert.equal(server.name, INFER_SPAN_NAME);
      assert.equal(server.instrumentationScope.name, SERVER_TRACER_NAME);
      assert.equal(server.spanContext().traceId, client.spanContext().traceId, "same trace");
      assert.equal(server.parentSpanContext?.spanId, client.spanContext().spanId, "parent is the client span");
      assert.equal(server.parentSpanContext?.isRemote, true);
      assert.deepEqual(
        { ...server.attributes },
        {
          "rpc.system": protocol,
          "rpc.service": "inference.GRPCInferenceService",
          "rpc.method": "ModelInfer",
          "kserve.model.name": "simple",
          "kserve.model.version": "1",
          "kserve.request.id": `req-${protocol}`,
          "kserve.batch_size": 2,
          "triton.trace_level": "TIMESTAMPS",
        },
      );
      assert.equal(server.status.code, SpanStatusCode.UNSET);
      // Within the client span: the request was sent before the server got it and answered after.
      assert.ok(ns(server.startTime) >= ns(client.startTime) && ns(server.endTime) <= ns(client.endTime), "server span inside the client span");
      const children = exporter.getFinishedSpans().filter((s) => s.parentSpanContext?.spanId === server.spanContext().spanId);
      assert.deepEqual(children.map((c) => c.name).sort(), ["compute_infer", "compute_input", "compute_output", "queue"]);
      const by = (n: string) => children.find((c) => c.name === n)!;
      const order = ["queue", "compute_input", "compute_infer", "compute_output"].map(by);
      assert.ok(ns(order[0]!.startTime) >= ns(server.startTime), "queue starts after the request arrived");
      for (let i = 0; i < order.length; i++) {
        const s = order[i]!;
        assert.equal(s.spanContext().traceId, server.spanContext().traceId);
        assert.ok(ns(s.endTime) >= ns(s.startTime), `${s.name} ends after it starts`);
        if (i > 0) assert.ok(ns(s.startTime) >= ns(order[i - 1]!.endTime), `${s.name} starts after ${order[i - 1]!.name} ends`);
      }
      assert.ok(ns(order[3]!.endTime) <= ns(server.endTime), "compute ends before the server span");
      assert.ok(ns(by("compute_infer").endTime) > ns(by("compute_infer").startTime), "the kernel took time");
    });

    test("a failing sampled request ends its SERVER span with an error status and no compute spans", async () => {
      await assert.rejects(clients[protocol].infer("simple", [new Tensor("INPUT0", "INT32", [1, 3], Int32Array.of(1, 2, 3))]));
      const [server] = serverSpans();
      assert.ok(server);
      assert.equal(server.status.code, SpanStatusCode.ERROR);
      assert.equal(server.attributes["error.type"], "INVALID_ARG");
      assert.equal(exporter.getFinishedSpans().filter((s) => s.parentSpanContext?.spanId === server.spanContext().spanId).length, 0);
    });
  });
}

test("trace_rate 2 traces every second request", async () => {
  await clients.grpc.updateTraceSettings({ trace_rate: 2 });
  for (let i = 0; i < 6; i++) await clients.http.infer("simple", inputs, { id: `r${i}` });
  assert.deepEqual(serverSpans().map((s) => s.attributes["kserve.request.id"]), ["r1", "r3", "r5"]);
  assert.equal(clientSpans().length, 6, "every client call has its CLIENT span");
});

test("trace_count stops tracing after that many requests", async () => {
  await clients.http.updateTraceSettings({ trace_count: 2 });
  for (let i = 0; i < 5; i++) await clients.grpc.infer("simple", inputs, { id: `c${i}` });
  assert.deepEqual(serverSpans().map((s) => s.attributes["kserve.request.id"]), ["c0", "c1"]);
  assert.equal((await clients.http.traceSettings()).trace_count, 0);
});

test("trace_level OFF records no server spans (client spans still go out)", async () => {
  await clients.http.updateTraceSettings({ trace_level: ["OFF"] });
  for (let i = 0; i < 3; i++) await clients.http.infer("simple", inputs);
  await clients.grpc.infer("simple", inputs);
  assert.equal(serverSpans().length, 0);
  assert.equal(clientSpans().length, 4);
});

test("a per-model trace setting overrides the global one", async () => {
  await clients.http.updateTraceSettings({ trace_level: ["OFF"] });
  await clients.http.updateTraceSettings({ trace_level: ["TIMESTAMPS", "TENSORS"], trace_rate: 1 }, { model: "simple" });
  try {
    await clients.grpc.infer("simple", inputs);
    const [server] = serverSpans();
    assert.ok(server);
    assert.equal(server.attributes["triton.trace_level"], "TIMESTAMPS,TENSORS");
    // TENSORS adds one event per input: name, datatype, shape, bytes.
    assert.deepEqual(
      server.events.map((e) => ({ ...e.attributes })),
      ["INPUT0", "INPUT1"].map((name) => ({ name, datatype: "INT32", shape: "2,16", byte_size: 128 })),
    );
  } finally {
    await clients.http.updateTraceSettings({ trace_level: null, trace_rate: null }, { model: "simple" });
  }
});

test("a decoupled request on ModelStreamInfer: SERVER span under the stream's traceparent, compute span, one event per response", async () => {
  const raw = grpcClient(srv.grpcUrl);
  try {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    const metadata = new grpc.Metadata();
    metadata.set("traceparent", `00-${traceId}-${parentId}-01`);
    const call = raw.raw.ModelStreamInfer(metadata);
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", () => {});
      call.on("status", (st: grpc.StatusObject) => (st.code === grpc.status.OK ? resolve() : reject(new Error(st.details))));
      call.on("error", reject);
    });
    call.write(repeatRequest("d1", [7, 8, 9], [0, 0, 0], 0, false));
    call.end();
    await done;
    const [server] = serverSpans();
    assert.ok(server, "a server span");
    assert.equal(server.spanContext().traceId, traceId);
    assert.equal(server.parentSpanContext?.spanId, parentId);
    assert.equal(server.attributes["rpc.method"], "ModelStreamInfer");
    assert.equal(server.attributes["kserve.request.id"], "d1");
    assert.deepEqual(server.events.map((e) => [e.name, e.attributes?.index]), [["response", 0], ["response", 1], ["response", 2]]);
    const children = exporter.getFinishedSpans().filter((c) => c.parentSpanContext?.spanId === server.spanContext().spanId);
    assert.deepEqual(children.map((c) => c.name), ["compute_infer"]);
    assert.ok(ns(children[0]!.startTime) >= ns(server.startTime) && ns(children[0]!.endTime) <= ns(server.endTime));
  } finally {
    raw.close();
  }
});

test("a traceparent marked not sampled: the SDK's parent-based sampler records no server span", async () => {
  const body = JSON.stringify({
    inputs: ["INPUT0", "INPUT1"].map((name) => ({ name, datatype: "INT32", shape: [1, 16], data: Array(16).fill(1) })),
  });
  const headers = { "content-type": "application/json", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00" };
  assert.equal((await fetch(`${srv.httpUrl}/v2/models/simple/infer`, { method: "POST", body, headers })).status, 200);
  headers.traceparent = headers.traceparent.replace(/-00$/, "-01");
  assert.equal((await fetch(`${srv.httpUrl}/v2/models/simple/infer`, { method: "POST", body, headers })).status, 200);
  assert.deepEqual(serverSpans().map((s) => s.parentSpanContext?.spanId), ["00f067aa0ba902b7"], "only the sampled one");
});
