// `iaas bench --otlp-endpoint URL --trace-rate R`: every request gets its own CLIENT span (own trace id), the
// sampled share is exported over OTLP/HTTP JSON to a collector stand-in in this test, and flushed at the end.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server as HttpServer } from "node:http";
import { startServer, DEFAULT_MODEL_REPOSITORY } from "@iaas/server-native";
import { iaas } from "./support/cli-process.ts";
import { successCount } from "./support/server-stats.ts";
import { parseTraceRate, tracesUrl } from "../src/tracing/trace-options.ts";

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server;
let collector: HttpServer;
let collectorUrl = "";
interface OtlpSpan {
  traceId: string;
  name: string;
  kind: number;
}
const spans: OtlpSpan[] = [];
const paths: string[] = [];

before(async () => {
  server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, modelRepository: DEFAULT_MODEL_REPOSITORY });
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      paths.push(`${req.method} ${req.url} ${req.headers["content-type"]}`);
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  const addr = collector.address() as { port: number };
  collectorUrl = `http://127.0.0.1:${addr.port}`;
});
after(async () => {
  await server.close();
  await new Promise((resolve) => collector.close(resolve));
});

const served = (): Promise<number> => successCount(server.httpUrl, "simple");

const SHORT = ["--warmup-ms", "0", "--measurement-interval", "250", "--max-trials", "3", "-c", "2"];

test("trace rate syntax and the OTLP traces URL", () => {
  assert.equal(parseTraceRate("1/100"), 0.01);
  assert.equal(parseTraceRate("5%"), 0.05);
  assert.equal(parseTraceRate("0.5"), 0.5);
  assert.throws(() => parseTraceRate("2"), /between 0 and 1/);
  assert.throws(() => parseTraceRate("often"), /expected a fraction/);
  assert.equal(tracesUrl("http://localhost:4318"), "http://localhost:4318/v1/traces");
  assert.equal(tracesUrl("http://c:1/custom"), "http://c:1/custom");
});

test("--trace-rate 1: one exported KServe ModelInfer span per request, each its own trace", async () => {
  spans.length = 0;
  const before = await served();
  const r = await iaas(["bench", "-u", server.httpUrl, "--otlp-endpoint", collectorUrl, "--trace-rate", "1", ...SHORT]);
  assert.equal(r.code, 0, r.stderr);
  const sent = (await served()) - before;
  const infer = spans.filter((s) => s.name === "KServe ModelInfer");
  assert.ok(paths.every((p) => p.startsWith("POST /v1/traces application/json")), paths.join("; "));
  assert.ok(infer.every((s) => s.kind === 3), "SPAN_KIND_CLIENT");
  // Flushed at the end: every inference the server answered has its span.
  assert.ok(infer.length >= sent && infer.length <= sent + 4, `${infer.length} spans for ${sent} requests`);
  assert.equal(new Set(infer.map((s) => s.traceId)).size, infer.length, "every request starts its own trace");
});

test("--trace-rate 1/4 exports about a quarter of the requests", async () => {
  spans.length = 0;
  const before = await served();
  const r = await iaas(["bench", "-u", server.httpUrl, "--otlp-endpoint", collectorUrl, "--trace-rate", "1/4", ...SHORT]);
  assert.equal(r.code, 0, r.stderr);
  const sent = (await served()) - before;
  const infer = spans.filter((s) => s.name === "KServe ModelInfer").length;
  assert.ok(sent > 100, `${sent} requests`);
  assert.ok(infer > sent * 0.12 && infer < sent * 0.4, `${infer} of ${sent} exported`);
});
