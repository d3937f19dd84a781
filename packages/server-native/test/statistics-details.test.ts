// Statistics fields beyond the counters: response_stats (per response index) and memory_usage (model
// weights per device), identical over HTTP and gRPC.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseJson } from "@iaas/client/protocol";
import { generateDenseLayers } from "../src/backends/dense-mlp-weights.ts";
import { DEFAULT_MODEL_REPOSITORY } from "../src/server.ts";
import { http, identityConfig, postJson, serveForSuite } from "./helpers.ts";

const mlp = readFileSync(join(DEFAULT_MODEL_REPOSITORY, "dense_mlp", "config.pbtxt"), "utf8")
  .replace(/kind: KIND_AUTO\s+count: 1/, "kind: KIND_CPU\n    count: 2")
  .replace(/\s*label_filename: "labels.txt"/, "");
const ctx = serveForSuite({ mlp: mlp.replace('name: "dense_mlp"', 'name: "mlp"'), ident: identityConfig("ident", "TYPE_INT32") });

const stats = async (model: string) => (parseJson((await http(ctx.srv.httpUrl, `/v2/models/${model}/stats`)).body.toString()) as any).model_stats[0];

test("response_stats['0'] counts each request's response: successes with compute times, failures", async () => {
  for (let i = 0; i < 3; i++) assert.equal((await postJson(ctx.srv.httpUrl, "/v2/models/ident/infer", { inputs: [{ name: "INPUT0", datatype: "INT32", shape: [2], data: [1, 2] }] })).status, 200);
  assert.equal((await postJson(ctx.srv.httpUrl, "/v2/models/ident/infer", { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [1] }] })).status, 400);
  const s = await stats("ident");
  assert.deepEqual(Object.keys(s.response_stats), ["0"]);
  const r = s.response_stats["0"];
  assert.equal(Number(r.success.count), 3);
  assert.equal(Number(r.compute_infer.count), 3);
  assert.equal(Number(r.compute_output.count), 3);
  assert.equal(Number(r.fail.count), 1);
  assert.ok(Number(r.fail.ns) > 0);
  assert.deepEqual([Number(r.empty_response.count), Number(r.cancel.count)], [0, 0]);
  assert.equal(r.success.ns, s.inference_stats.success.ns, "one response per request: the same durations");
  const g = (await ctx.client.call("ModelStatistics", { name: "ident", version: "" })).model_stats[0];
  assert.equal(g.response_stats["0"].success.count, "3");
  assert.equal(g.response_stats["0"].fail.count, "1");
  assert.equal(g.response_stats["0"].compute_infer.ns, String(r.compute_infer.ns));
});

test("memory_usage reports the weights the instances hold, per device (CPU instances share one copy); none for weightless models", async () => {
  const weights = generateDenseLayers([256, 1024, 1024, 16], 42).reduce((n, l) => n + l.weights.byteLength + l.bias.byteLength, 0);
  const s = await stats("mlp");
  assert.deepEqual(
    s.memory_usage.map((m: any) => ({ type: m.type, id: Number(m.id), byte_size: Number(m.byte_size) })),
    [{ type: "CPU", id: 0, byte_size: weights }],
    "two CPU instances, one shared copy of the weights",
  );
  const g = (await ctx.client.call("ModelStatistics", { name: "mlp", version: "1" })).model_stats[0];
  assert.deepEqual(g.memory_usage, [{ type: "CPU", id: "0", byte_size: String(weights) }]);
  assert.deepEqual((await stats("ident")).memory_usage, []);
});
