// Statistics after a known mix of requests: counts exact, durations non-zero, and the same numbers
// whether read over HTTP (exact uint64 JSON) or gRPC (uint64 as decimal strings).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseJson } from "@iaas/client/protocol";
import { DEFAULT_MODEL_REPOSITORY } from "../src/server.ts";
import { http, postJson, serveForSuite } from "./helpers.ts";

const ctx = serveForSuite({ simple: readFileSync(join(DEFAULT_MODEL_REPOSITORY, "simple", "config.pbtxt"), "utf8") });

const toBig = (v: unknown): unknown => {
  if (typeof v === "number" || typeof v === "bigint" || (typeof v === "string" && /^\d+$/.test(v))) return BigInt(v as never);
  if (Array.isArray(v)) return v.map(toBig);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === "name" || k === "version" ? x : toBig(x)]));
  return v;
};

test("statistics count every request and agree between HTTP and gRPC", async () => {
  const started = Date.now();
  const httpBatches = [1, 2, 2, 1, 3];
  for (const b of httpBatches) {
    const data = Array(16 * b).fill(b);
    const r = await postJson(ctx.srv.httpUrl, "/v2/models/simple/infer", {
      inputs: [
        { name: "INPUT0", datatype: "INT32", shape: [b, 16], data },
        { name: "INPUT1", datatype: "INT32", shape: [b, 16], data },
      ],
    });
    assert.equal(r.status, 200);
  }
  for (let i = 0; i < 2; i++) {
    await ctx.client.call("ModelInfer", {
      model_name: "simple",
      inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 16] }, { name: "INPUT1", datatype: "INT32", shape: [1, 16] }],
      raw_input_contents: [Buffer.alloc(64), Buffer.alloc(64)],
    });
  }
  const bad = await postJson(ctx.srv.httpUrl, "/v2/models/simple/infer", { inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 3], data: [1, 2, 3] }] });
  assert.equal(bad.status, 400);

  const overHttp = await http(ctx.srv.httpUrl, "/v2/models/simple/stats");
  assert.equal(overHttp.status, 200);
  const httpStats = (parseJson(overHttp.body.toString()) as any).model_stats;
  const grpcStats = (await ctx.client.call("ModelStatistics", { name: "simple", version: "" })).model_stats;
  assert.equal(httpStats.length, 1);
  const s = toBig(httpStats[0]) as any;
  const g = toBig(grpcStats[0]) as any;

  const n = BigInt(httpBatches.length + 2);
  assert.equal(s.name, "simple");
  assert.equal(s.version, "1");
  assert.equal(s.execution_count, n);
  assert.equal(s.inference_count, BigInt(httpBatches.reduce((a, b) => a + b, 0) + 2));
  for (const k of ["success", "queue", "compute_input", "compute_infer", "compute_output"]) assert.equal(s.inference_stats[k].count, n, k);
  assert.ok(s.inference_stats.success.ns > 0n);
  assert.ok(s.inference_stats.queue.ns > 0n);
  assert.ok(s.inference_stats.compute_infer.ns > 0n);
  assert.ok(s.inference_stats.success.ns >= s.inference_stats.compute_infer.ns + s.inference_stats.queue.ns);
  assert.equal(s.inference_stats.fail.count, 1n);
  assert.ok(s.inference_stats.fail.ns > 0n);
  assert.deepEqual(s.inference_stats.cache_hit, { count: 0n, ns: 0n });
  assert.deepEqual(s.batch_stats.map((b: any) => [b.batch_size, b.compute_infer.count]), [[1n, 4n], [2n, 2n], [3n, 1n]]);
  assert.ok(s.last_inference >= BigInt(started) && s.last_inference <= BigInt(Date.now()));

  // gRPC reports the same counters (uint64 as strings); proto3 leaves out empty maps and zero fields only
  // where the JSON had them as zero, so compare field by field.
  assert.equal(g.execution_count, s.execution_count);
  assert.equal(g.inference_count, s.inference_count);
  assert.equal(g.last_inference, s.last_inference);
  assert.deepEqual(g.inference_stats, s.inference_stats);
  assert.deepEqual(g.batch_stats, s.batch_stats);

  const all = (parseJson((await http(ctx.srv.httpUrl, "/v2/models/stats")).body.toString()) as any).model_stats;
  assert.deepEqual(toBig(all), [s]);
  assert.equal((await http(ctx.srv.httpUrl, "/v2/models/nope/stats")).status, 404);
});
