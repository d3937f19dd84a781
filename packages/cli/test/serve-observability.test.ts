// `iaas serve` observability flags end to end: --otlp-endpoint exports SERVER spans over OTLP/HTTP JSON to
// a collector peer (a node:http server here), continuing the trace of the client spans this process records;
// --metrics-port serves Prometheus metrics; --allow-metrics=false turns them off.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { spawn } from "node:child_process";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { createClient, Tensor } from "@iaas/client";
import { BIN, startServe as serve } from "./support/cli-process.ts";
import { otlpCollector } from "./support/otlp-collector.ts";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
before(() => void provider.register());
after(() => provider.shutdown());

const a = new Int32Array(16).fill(2);
const inputs = [new Tensor("INPUT0", "INT32", [1, 16], a), new Tensor("INPUT1", "INT32", [1, 16], a)];

test("serve --otlp-endpoint exports SERVER spans that continue the client's traces (HTTP and gRPC)", { timeout: 60_000 }, async () => {
  const collector = await otlpCollector();
  const metricsPort = await freePort();
  const srv = await serve(["--otlp-endpoint", collector.url, "--trace-rate", "1", "--metrics-port", String(metricsPort)]);
  try {
    for (const protocol of ["http", "grpc"] as const) {
      const client = createClient({ url: protocol === "http" ? srv.httpUrl : srv.grpcUrl, protocol, retry: false });
      try {
        await client.infer("simple", inputs, { id: protocol });
      } finally {
        await client.close();
      }
    }
    const clientSpans = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT && s.name === "KServe ModelInfer");
    assert.equal(clientSpans.length, 2);
    const servers = await until("two SERVER spans at the collector", () => {
      const found = collector.spans.filter((r) => r.span.kind === 2 /* OTLP SPAN_KIND_SERVER */);
      return found.length >= 2 ? found : undefined;
    });
    assert.equal(servers.length, 2);
    assert.match(collector.contentTypes[0]!, /^application\/json/);
    for (const client of clientSpans) {
      const server = servers.find((s) => s.span.parentSpanId === client.spanContext().spanId);
      assert.ok(server, `a server span whose parent is client span ${client.spanContext().spanId}`);
      assert.equal(server.span.traceId, client.spanContext().traceId);
      assert.equal(server.span.name, "KServe ModelInfer");
      assert.equal(server.service, "iaas-server");
      assert.equal(server.scope, "@iaas/server-native");
      const attr = (k: string) => server.span.attributes?.find((x) => x.key === k)?.value;
      assert.deepEqual(attr("kserve.model.name"), { stringValue: "simple" });
      assert.deepEqual(attr("rpc.system"), { stringValue: client.attributes["rpc.system"] });
      const children = await until("the compute spans", () => {
        const c = collector.spans.filter((r) => r.span.parentSpanId === server.span.spanId).map((r) => r.span.name).sort();
        return c.length === 4 ? c : undefined;
      });
      assert.deepEqual(children, ["compute_infer", "compute_input", "compute_output", "queue"]);
    }
    // The metrics port given on the command line serves the same requests, and the listening line says where.
    assert.equal(srv.metricsPort, metricsPort);
    assert.equal(srv.metricsUrl, `http://127.0.0.1:${metricsPort}/metrics`);
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(text, /^nv_inference_request_success\{model="simple",version="1"\} 2$/m);
    const banner = await until("the serve banner on stderr", () => (srv.stderr().includes("Ctrl-C stops") ? srv.stderr() : undefined));
    assert.match(banner, new RegExp(`metrics http://127\\.0\\.0\\.1:${metricsPort}/metrics`));
  } finally {
    assert.equal(await srv.stop(), 0);
    await collector.close();
  }
});

test("serve --allow-metrics=false opens no metrics port; bad observability flags are usage errors", { timeout: 60_000 }, async () => {
  const srv = await serve(["--allow-metrics=false"]);
  try {
    const banner = await until("the serve banner on stderr", () => (srv.stderr().includes("Ctrl-C stops") ? srv.stderr() : undefined));
    assert.doesNotMatch(banner, /metrics/);
    assert.equal(srv.metricsPort, undefined);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
  for (const [args, message] of [
    [["--allow-metrics=maybe"], /expected true or false/],
    [["--trace-level", "LOUD"], /unknown trace level "LOUD"/],
    [["--otlp-endpoint", "grpc://x:4317"], /only http:\/\/ and https:\/\//],
  ] as const) {
    const child = spawn(process.execPath, [BIN, "serve", "--http-port", "0", "--grpc-port", "0", ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    assert.equal(code, 2, `${args.join(" ")}: ${err}`);
    assert.match(err, message);
  }
});
