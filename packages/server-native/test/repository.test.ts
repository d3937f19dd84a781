// Repository control while the server runs: load with a config override (instance count visible in
// the config and in how many requests execute at once), reloads that let in-flight requests finish,
// unload/load, index, and the errors of bad load requests.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { parseJson } from "@iaas/client/protocol";
import { startServer } from "../src/server.ts";
import { binaryBody, http, identityConfig, postJson, serveForSuite, tempRepository } from "./helpers.ts";

const MLP = `name: "mlp"
backend: "dense_mlp"
max_batch_size: 32
input [ { name: "X", data_type: TYPE_FP32, dims: [ 256 ] } ]
output [ { name: "Y", data_type: TYPE_FP32, dims: [ 16 ] } ]
instance_group [ { kind: KIND_CPU, count: 1 } ]
parameters { key: "layer_sizes" value { string_value: "256,1024,1024,16" } }
`;
const mlpOverride = (count: number, extra: object = {}) =>
  JSON.stringify({
    name: "mlp",
    backend: "dense_mlp",
    max_batch_size: 32,
    input: [{ name: "X", data_type: "TYPE_FP32", dims: [256] }],
    output: [{ name: "Y", data_type: "TYPE_FP32", dims: [16] }],
    instance_group: [{ kind: "KIND_CPU", count }],
    parameters: { layer_sizes: { string_value: "256,1024,1024,16" } },
    ...extra,
  });

const ctx = serveForSuite({ mlp: MLP, ident: identityConfig("ident", "TYPE_INT32") });

const BATCH = 16;
const input = Buffer.from(new Float32Array(BATCH * 256).fill(0.25).buffer);

async function mlpInfer(): Promise<number> {
  const { body, headerLength } = binaryBody(
    { inputs: [{ name: "X", datatype: "FP32", shape: [BATCH, 256], parameters: { binary_data_size: input.byteLength } }], parameters: { binary_data_output: true } },
    [input],
  );
  const r = await http(ctx.srv.httpUrl, "/v2/models/mlp/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
  return r.status;
}

/** Four requests handed to the core in one tick, so they reach the scheduler together. */
async function burstOfFour(): Promise<void> {
  const request = { model: "mlp", inputs: [{ name: "X", datatype: "FP32", shape: [BATCH, 256], data: input }] };
  const results = await Promise.all([1, 2, 3, 4].map(() => ctx.srv.server.infer(request)));
  for (const r of results) assert.deepEqual(r.outputs[0]!.shape, [BATCH, 16]);
}

async function mlpStats(): Promise<{ count: bigint; queueNs: bigint; inferNs: bigint }> {
  const s = (parseJson((await http(ctx.srv.httpUrl, "/v2/models/mlp/stats")).body.toString()) as any).model_stats[0];
  const big = (v: number | bigint) => BigInt(v);
  return { count: big(s.execution_count), queueNs: big(s.inference_stats.queue.ns), inferNs: big(s.inference_stats.compute_infer.ns) };
}

const load = (model: string, parameters?: object) => postJson(ctx.srv.httpUrl, `/v2/repository/models/${model}/load`, parameters ? { parameters } : {});

test("load with a config override changes the instance count, visible in config and in concurrent execution", async () => {
  // One instance: 4 simultaneous requests run one after another, so later ones wait in the queue.
  await burstOfFour();
  const one = await mlpStats();
  assert.equal(one.count, 4n);
  const avgExec = one.inferNs / 4n;
  assert.ok(one.queueNs > 2n * avgExec, `1 instance: queued ${one.queueNs} ns in total, one execution takes ~${avgExec} ns`);

  const r = await load("mlp", { config: mlpOverride(4) });
  assert.equal(r.status, 200, r.body.toString());
  const cfg = (await http(ctx.srv.httpUrl, "/v2/models/mlp/config")).json();
  assert.deepEqual(cfg.instance_group, [{ name: "mlp_0", kind: "KIND_CPU", count: 4, gpus: [], host_policy: "" }]);

  // Four instances: every request is dispatched at once (statistics restart with the new model).
  await burstOfFour();
  assert.equal(await mlpInfer(), 200);
  const four = await mlpStats();
  assert.equal(four.count, 5n);
  assert.ok(four.queueNs < avgExec / 2n, `4 instances: queued ${four.queueNs} ns in total, one execution takes ~${avgExec} ns`);
});

test("requests in flight during a reload complete on the old instances", async () => {
  const inflight = Array.from({ length: 6 }, () => mlpInfer());
  await new Promise((resolve) => setTimeout(resolve, 1));
  const reload = ctx.client.call("RepositoryModelLoad", { model_name: "mlp", parameters: { config: { string_param: mlpOverride(2) } } });
  assert.deepEqual(await Promise.all(inflight), [200, 200, 200, 200, 200, 200]);
  await reload;
  const cfg = await ctx.client.call("ModelConfig", { name: "mlp", version: "" });
  assert.equal(cfg.config.instance_group[0].count, 2);
  assert.equal(await mlpInfer(), 200);
});

test("a bad override is rejected naming the JSON path, and the loaded model keeps serving", async () => {
  const r = await load("mlp", { config: mlpOverride(0) });
  assert.equal(r.status, 400);
  assert.match(r.json().error, /failed to load 'mlp': config override for model 'mlp' at instance_group\[0\]\.count: instance_group count must be >= 1, got 0/);
  const r2 = await load("mlp", { config: mlpOverride(1, { dynamic_batching: { preferred_batch_size: [1000] } }) });
  assert.match(r2.json().error, /at dynamic_batching\.preferred_batch_size\[0\]: preferred batch size 1000 must be in 1\.\.max_batch_size/);
  const r3 = await load("mlp", { config: mlpOverride(1, { parameters: { layer_sizes: { string_value: "256,x" } } }) });
  assert.match(r3.json().error, /at parameters\["layer_sizes"\]: parameter 'layer_sizes' must list at least 2 integers/);
  assert.equal((await http(ctx.srv.httpUrl, "/v2/models/mlp/ready")).status, 200);
  assert.equal((await http(ctx.srv.httpUrl, "/v2/models/mlp/config")).json().instance_group[0].count, 2);
  assert.equal(await mlpInfer(), 200);
});

test("unload, index and load again", async () => {
  assert.equal((await postJson(ctx.srv.httpUrl, "/v2/repository/models/ident/unload", {})).status, 200);
  assert.equal((await http(ctx.srv.httpUrl, "/v2/models/ident/ready")).status, 400);
  const r = await postJson(ctx.srv.httpUrl, "/v2/models/ident/infer", { inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1], data: [1] }] });
  assert.equal(r.status, 503);
  assert.match(r.json().error, /'ident' is not ready \(unavailable: unloaded\)/);
  const index = (await postJson(ctx.srv.httpUrl, "/v2/repository/index", {})).json();
  assert.deepEqual(index.find((m: any) => m.name === "ident"), { name: "ident", state: "UNAVAILABLE", reason: "unloaded" });
  assert.equal((await postJson(ctx.srv.httpUrl, "/v2/repository/index", { ready: true })).json().some((m: any) => m.name === "ident"), false);
  assert.deepEqual(await ctx.client.call("ModelReady", { name: "ident", version: "" }), { ready: false });

  await ctx.client.call("RepositoryModelLoad", { model_name: "ident" });
  const ok = await postJson(ctx.srv.httpUrl, "/v2/models/ident/infer", { inputs: [{ name: "INPUT0", datatype: "INT32", shape: [2], data: [1, -1] }] });
  assert.deepEqual(ok.json().outputs[0].data, [1, -1]);
  assert.equal((await http(ctx.srv.httpUrl, "/v2/health/ready")).status, 200);
});

test("load errors: unknown model, file uploads, non-string config", async () => {
  const missing = await load("nope");
  assert.equal(missing.status, 404);
  assert.match(missing.json().error, /model 'nope' is not in the model repository/);
  // File overrides are served (repository-overrides.test.ts); without a config they are refused.
  const files = await load("ident", { "file:1/model.bin": "AAAA" });
  assert.equal(files.status, 400);
  assert.match(files.json().error, /file:1\/model.bin/);
  const notString = await load("ident", { config: { name: "ident" } });
  assert.equal(notString.status, 400);
  await assert.rejects(ctx.client.call("RepositoryModelLoad", { model_name: "nope" }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
  await assert.rejects(ctx.client.call("RepositoryModelUnload", { model_name: "nope" }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
});

test("a broken model fails start (naming file and line), or with strictModelLoad: false leaves the server not ready", async () => {
  const broken = tempRepository({ good: identityConfig("good", "TYPE_INT8"), bad: identityConfig("bad", "TYPE_INT8", "max_batch_size: 2\n") });
  try {
    await assert.rejects(startServer({ modelRepository: broken.dir, httpPort: 0, grpcPort: 0 }), (err: Error) => {
      assert.match(err.message, /failed to load 'bad': .*bad\/config\.pbtxt:7: field 'max_batch_size' is set more than once/);
      return true;
    });
    const lenient = await startServer({ modelRepository: broken.dir, httpPort: 0, grpcPort: 0, strictModelLoad: false });
    try {
      assert.equal((await http(lenient.httpUrl, "/v2/health/ready")).status, 400);
      assert.equal((await http(lenient.httpUrl, "/v2/models/good/ready")).status, 200);
      const index = (await postJson(lenient.httpUrl, "/v2/repository/index", {})).json();
      const bad = index.find((m: any) => m.name === "bad");
      assert.equal(bad.state, "UNAVAILABLE");
      assert.match(bad.reason, /config\.pbtxt:7: field 'max_batch_size' is set more than once/);
    } finally {
      await lenient.close();
    }
  } finally {
    broken.remove();
  }
});
