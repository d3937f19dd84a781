// Issue 5's end-to-end trace check: one `iaas bench --otlp-endpoint` run against `iaas serve --otlp-endpoint`,
// both exporting to the same OTLP/HTTP receiver (a node:http peer here). Every sampled request's CLIENT span
// (from bench) must be the parent of the SERVER span (from serve): same trace id, parentSpanId = client span id.
import { test } from "node:test";
import assert from "node:assert/strict";
import { iaas, startServe } from "./support/cli-process.ts";
import { otlpCollector } from "./support/otlp-collector.ts";

const serve = (args: string[]) => startServe(["--metrics-port", "0", ...args]);

const SHORT = ["--warmup-ms", "0", "--measurement-interval", "250", "--max-trials", "3", "-c", "2", "-m", "simple"];

test("bench and serve export one trace per sampled request: client span is the server span's parent (HTTP and gRPC)", { timeout: 90_000 }, async () => {
  const otlp = await otlpCollector();
  const srv = await serve(["--otlp-endpoint", otlp.url, "--trace-rate", "1"]);
  try {
    for (const [protocol, url] of [["http", srv.httpUrl], ["grpc", srv.grpcUrl]] as const) {
      const r = await iaas(["bench", "-u", url, "-i", protocol, "--otlp-endpoint", otlp.url, "--trace-rate", "1", ...SHORT]);
      assert.equal(r.code, 0, `${protocol}: ${r.stderr}`);
    }
    // serve flushes its batched spans when it stops.
    assert.equal(await srv.stop(), 0);
  } finally {
    await srv.stop();
    await otlp.close();
  }
  const clients = new Map(otlp.spans.map((r) => r.span).filter((s) => s.kind === 3 && s.name === "KServe ModelInfer").map((s) => [s.spanId, s]));
  const servers = otlp.spans.map((r) => r.span).filter((s) => s.kind === 2);
  assert.ok(clients.size >= 20, `client spans exported: ${clients.size}`);
  assert.ok(servers.length >= 20, `server spans exported: ${servers.length}`);
  let joined = 0;
  for (const s of servers) {
    const parent = s.parentSpanId ? clients.get(s.parentSpanId) : undefined;
    assert.ok(parent, `server span ${s.spanId} (${s.name}) has no client span parent`);
    assert.equal(parent.traceId, s.traceId);
    joined++;
  }
  // Every request the server traced came from a bench client span; nearly every client span reached the server
  // (the last requests of a level can be cut off when the level ends).
  assert.ok(joined >= clients.size * 0.9, `${joined} of ${clients.size} client spans have their server span`);
});
