// W3C trace context and CLIENT spans. Recording peers (a node:http server and a grpc-js server) capture
// the headers / metadata exactly as the client sent them. The first test runs before any SDK is
// registered; the later ones register the Node SDK with an in-memory exporter.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { SpanKind, SpanStatusCode, context, propagation, trace } from "@opentelemetry/api";
import type { InMemorySpanExporter, ReadableSpan } from "@opentelemetry/sdk-trace-node";
import { createClient, Tensor, InferenceError, type InferenceClient } from "../src/index.ts";
import { inferenceServiceClient } from "../src/transport/grpc/service.ts";
import { registerSdk } from "./support/otel-sdk.ts";

interface Peer {
  url: string;
  port: number;
  /** traceparent / tracestate of each request, in arrival order. */
  seen: { traceparent: string | undefined; tracestate: string | undefined }[];
  close(): Promise<void>;
}

const one = (v: unknown): string | undefined => {
  const first: unknown = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : String(first);
};

async function httpPeer(): Promise<Peer> {
  const seen: Peer["seen"] = [];
  const server = http.createServer((req, res) => {
    seen.push({ traceparent: one(req.headers.traceparent), tracestate: one(req.headers.tracestate) });
    req.resume();
    req.on("end", () => {
      const json = (status: number, body: unknown): void => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.url === "/v2/health/ready") return json(200, { ready: true });
      if (req.url === "/v2/models/m/infer" || req.url === "/v2/models/m/versions/1/infer") return json(200, { model_name: "m", model_version: "1", id: "", outputs: [] });
      json(400, { error: `no route ${req.url}` });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function grpcPeer(): Promise<Peer> {
  const seen: Peer["seen"] = [];
  const server = new grpc.Server();
  const record = (call: grpc.ServerUnaryCall<unknown, unknown>): void => {
    seen.push({ traceparent: one(call.metadata.get("traceparent")), tracestate: one(call.metadata.get("tracestate")) });
  };
  server.addService((inferenceServiceClient() as unknown as { service: grpc.ServiceDefinition }).service, {
    ServerReady: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      record(call);
      cb(null, { ready: true });
    },
    ModelInfer: (call: grpc.ServerUnaryCall<{ model_name: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      record(call);
      if (call.request.model_name !== "m") return cb({ code: grpc.status.NOT_FOUND, details: `unknown model ${call.request.model_name}` });
      cb(null, { model_name: "m", model_version: "1", id: "", outputs: [], raw_output_contents: [] });
    },
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return { url: `grpc://127.0.0.1:${port}`, port, seen, close: async () => void server.forceShutdown() };
}

const input = new Tensor("INPUT0", "FP32", [1], new Float32Array([1]));
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

let peers: { http: Peer; grpc: Peer };
before(async () => {
  peers = { http: await httpPeer(), grpc: await grpcPeer() };
});
after(async () => {
  await peers.http.close();
  await peers.grpc.close();
});

// Registers a tracer provider that keeps finished spans in memory, undone when the test ends.
test("no tracer provider registered: no traceparent goes out", async () => {
  for (const kind of ["http", "grpc"] as const) {
    const peer = peers[kind];
    const client = createClient({ url: peer.url });
    try {
      peer.seen.length = 0;
      assert.equal(await client.isServerReady(), true);
      await client.infer("m", [input]);
      assert.equal(peer.seen.length, 2, kind);
      assert.deepEqual(peer.seen, [
        { traceparent: undefined, tracestate: undefined },
        { traceparent: undefined, tracestate: undefined },
      ]);
    } finally {
      await client.close();
    }
  }
});

test("with an SDK: one CLIENT span per call, child of the active span, and its context on the wire", async (t) => {
  const exporter = registerSdk(t);
  const tracer = trace.getTracer("tracing-test");
  const spanNamed = (name: string): ReadableSpan => {
    const found = exporter.getFinishedSpans().filter((s) => s.name === name);
    assert.equal(found.length, 1, `spans named ${name}: ${exporter.getFinishedSpans().map((s) => s.name).join(", ")}`);
    return found[0]!;
  };

  for (const kind of ["http", "grpc"] as const) {
    const peer = peers[kind];
    peer.seen.length = 0;
    exporter.reset();
    const client: InferenceClient = createClient({ url: peer.url });
    try {
      const parent = tracer.startSpan("user operation");
      await context.with(trace.setSpan(context.active(), parent), async () => {
        await client.infer("m", [input], { version: "1" });
        await rejectsWithCode(client.infer(kind === "http" ? "missing" : "other", [input]), kind === "http" ? "invalid_argument" : "not_found");
      });
      parent.end();

      const [good, bad] = exporter.getFinishedSpans().filter((s) => s.name === "KServe ModelInfer");
      assert.ok(good && bad, `${kind}: two infer spans expected`);
      const user = spanNamed("user operation");
      for (const s of [good, bad]) {
        assert.equal(s.kind, SpanKind.CLIENT);
        assert.equal(s.spanContext().traceId, user.spanContext().traceId);
        assert.equal(s.parentSpanContext?.spanId, user.spanContext().spanId, `${kind}: parent is the user's span`);
        assert.equal(s.attributes["rpc.system"], kind);
        assert.equal(s.attributes["rpc.service"], "inference.GRPCInferenceService");
        assert.equal(s.attributes["rpc.method"], "ModelInfer");
        assert.equal(s.attributes["server.address"], "127.0.0.1");
        assert.equal(s.attributes["server.port"], peer.port);
      }
      assert.equal(good.attributes["kserve.model.name"], "m");
      assert.equal(good.attributes["kserve.model.version"], "1");
      assert.equal(good.status.code, SpanStatusCode.UNSET);
      assert.equal(bad.status.code, SpanStatusCode.ERROR);
      if (kind === "http") {
        assert.equal(bad.attributes["error.type"], "invalid_argument");
        assert.equal(bad.attributes["http.response.status_code"], 400);
      } else {
        assert.equal(good.attributes["rpc.grpc.status_code"], 0);
        assert.equal(bad.attributes["error.type"], "not_found");
        assert.equal(bad.attributes["rpc.grpc.status_code"], grpc.status.NOT_FOUND);
      }
      assert.ok(bad.events.some((e) => e.name === "exception"), "the failure is recorded as an exception event");

      // The wire carries each span's own context: the server's parent is the client span.
      assert.equal(peer.seen.length, 2);
      for (const [i, s] of [good, bad].entries()) {
        const m = TRACEPARENT.exec(peer.seen[i]!.traceparent ?? "");
        assert.ok(m, `${kind}: traceparent ${peer.seen[i]!.traceparent}`);
        assert.equal(m[1], s.spanContext().traceId);
        assert.equal(m[2], s.spanContext().spanId);
      }
    } finally {
      await client.close();
    }
  }
});

test("with an SDK: tracestate is propagated, a call outside any span starts a trace, tracing: false sends nothing", async (t) => {
  const exporter = registerSdk(t);
  const peer = peers.http;
  const client = createClient({ url: peer.url });
  const silent = createClient({ url: peer.url, tracing: false });
  try {
    peer.seen.length = 0;
    await client.isServerReady();
    const [root] = exporter.getFinishedSpans();
    assert.equal(root?.name, "KServe ServerReady");
    assert.equal(root?.parentSpanContext, undefined);
    assert.match(peer.seen[0]?.traceparent ?? "", new RegExp(`^00-${root!.spanContext().traceId}-${root!.spanContext().spanId}-01$`));

    // A remote parent with a tracestate (as an incoming request would carry): both go on.
    const remote = propagation.extract(context.active(), {
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      tracestate: "vendor=opaque",
    });
    peer.seen.length = 0;
    await context.with(remote, () => client.isServerReady());
    assert.match(peer.seen[0]?.traceparent ?? "", /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    assert.doesNotMatch(peer.seen[0]?.traceparent ?? "", /b7ad6b7169203331/);
    assert.equal(peer.seen[0]?.tracestate, "vendor=opaque");

    exporter.reset();
    peer.seen.length = 0;
    await silent.isServerReady();
    assert.deepEqual(peer.seen, [{ traceparent: undefined, tracestate: undefined }]);
    assert.equal(exporter.getFinishedSpans().length, 0);
  } finally {
    await client.close();
    await silent.close();
  }
});

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(
    () => assert.fail("expected a rejection"),
    (err: unknown) => err,
  );
  assert.ok(e instanceof InferenceError && e.code === code, `expected ${code}, got ${String(e)}`);
}
