// Dynamic batching: compatible queued requests run as one native execution (statistics show fewer
// executions than inferences and the merged batch sizes), every request gets its own rows back, shapes
// that differ are not merged, preserve_ordering answers in arrival order, and HTTP clients see it too.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { denseForward, generateDenseLayers } from "../src/backends/dense-mlp-weights.ts";
import type { InferRequest, InferResponse } from "../src/core/types.ts";
import { startServer, type RunningServer } from "../src/server.ts";
import { postJson, tempRepository } from "./helpers.ts";

const dense = (name: string, sizes: string, extra: string, count = 1, maxBatch = 8) => `name: "${name}"
backend: "dense_mlp"
max_batch_size: ${maxBatch}
input [ { name: "INPUT0", data_type: TYPE_FP32, dims: [ ${sizes.split(",")[0]} ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_FP32, dims: [ ${sizes.split(",").at(-1)} ] } ]
instance_group [ { kind: KIND_CPU, count: ${count} } ]
parameters { key: "layer_sizes" value { string_value: "${sizes}" } }
parameters { key: "seed" value { string_value: "7" } }
${extra}`;

const repo = tempRepository({
  // A long delay: requests submitted together always end up in one batch.
  batched: dense("batched", "4,8,3", "dynamic_batching { max_queue_delay_microseconds: 2000000 }"),
  preferred: dense("preferred", "4,8,3", "dynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 100000 }"),
  ident: `name: "ident"
backend: "identity"
max_batch_size: 8
input [ { name: "INPUT0", data_type: TYPE_INT32, dims: [ -1 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ -1 ] } ]
instance_group [ { kind: KIND_CPU } ]
dynamic_batching { max_queue_delay_microseconds: 200000 }`,
  ordered: dense("ordered", "64,1024,1024,4", "dynamic_batching { preserve_ordering: true }", 2, 64),
});
const ctx = {} as { srv: RunningServer };
before(async () => {
  ctx.srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0 });
});
after(async () => {
  await ctx.srv.close();
  repo.remove();
});

const rows = (n: number, width: number, seed: number): Float32Array => Float32Array.from({ length: n * width }, (_, i) => Math.sin(seed * 31 + i));
const fp32Request = (model: string, x: Float32Array, width: number): InferRequest => ({
  model,
  inputs: [{ name: "INPUT0", datatype: "FP32", shape: [x.length / width, width], data: Buffer.from(x.buffer) }],
});
const floats = (r: InferResponse): Float32Array => {
  const d = r.outputs[0]!.data;
  return new Float32Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
};
const stats = (model: string) => ctx.srv.server.statistics(model)[0]!;

test("requests queued together execute as one batch; each gets its own rows back", async () => {
  const layers = generateDenseLayers([4, 8, 3], 7);
  const sizes = [1, 2, 1, 3, 1];
  const inputs = sizes.map((n, k) => rows(n, 4, k + 1));
  // All submitted in one tick: 8 rows = max_batch_size, sent at once without waiting for the delay.
  const replies = await Promise.all(inputs.map((x) => ctx.srv.server.infer(fp32Request("batched", x, 4))));
  replies.forEach((r, k) => {
    assert.deepEqual(r.outputs[0]!.shape, [sizes[k], 3]);
    const want = denseForward(layers, inputs[k]!, sizes[k]!);
    const got = floats(r);
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-4, `request ${k} element ${i}: ${got[i]} vs ${want[i]}`);
  });
  const s = stats("batched");
  assert.equal(s.inference_count, 8n);
  assert.equal(s.execution_count, 1n);
  assert.deepEqual(s.batch_stats.map((b) => b.batch_size), [8n]);
  assert.equal(s.batch_stats[0]!.compute_infer.count, 1n);
  // Every request counts its queue time and the batch's compute time.
  assert.equal(s.inference_stats.queue.count, 5n);
  assert.equal(s.inference_stats.compute_infer.count, 5n);
  assert.equal(s.inference_stats.success.count, 5n);
});

test("a batch sent on its delay is cut to the largest preferred size", async () => {
  const replies = await Promise.all([1, 2, 3, 4, 5, 6].map((k) => ctx.srv.server.infer(fp32Request("preferred", rows(1, 4, k), 4))));
  assert.equal(replies.length, 6);
  const s = stats("preferred");
  assert.equal(s.inference_count, 6n);
  // 6 rows after 100 ms: a preferred batch of 4 first, then the remaining 2.
  assert.deepEqual(s.batch_stats.map((b) => [b.batch_size, b.compute_infer.count]), [[2n, 1n], [4n, 1n]]);
  assert.equal(s.execution_count, 2n);
});

test("requests with different non-batch dims are not merged; results stay per request", async () => {
  const mk = (values: number[]): InferRequest => ({
    model: "ident",
    inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, values.length], data: Buffer.from(Int32Array.from(values).buffer) }],
  });
  const sent = [[1, 2], [3, 4], [5, 6, 7], [8, 9]];
  const replies = await Promise.all(sent.map((v) => ctx.srv.server.infer(mk(v))));
  replies.forEach((r, k) => {
    const d = r.outputs[0]!.data;
    assert.deepEqual([...new Int32Array(d.buffer, d.byteOffset, d.byteLength / 4)], sent[k]);
    assert.deepEqual(r.outputs[0]!.shape, [1, sent[k]!.length]);
  });
  const s = stats("ident");
  assert.equal(s.inference_count, 4n);
  // [1,2],[3,4] merge; [5,6,7] closes that batch; [8,9] waits behind it: 3 executions.
  assert.equal(s.execution_count, 3n);
  assert.deepEqual(s.batch_stats.map((b) => [b.batch_size, b.compute_infer.count]), [[1n, 2n], [2n, 1n]]);
});

test("preserve_ordering: a small request behind a large one on another instance answers after it", async () => {
  const order: string[] = [];
  const big = ctx.srv.server.infer(fp32Request("ordered", rows(64, 64, 1), 64)).then(() => order.push("big"));
  // Lets the big batch leave the queue alone before the small one arrives.
  await new Promise((r) => setImmediate(r));
  const small = ctx.srv.server.infer(fp32Request("ordered", rows(1, 64, 2), 64)).then(() => order.push("small"));
  await Promise.all([big, small]);
  assert.deepEqual(order, ["big", "small"]);
  const s = stats("ordered");
  assert.equal(s.execution_count, 2n);
});

test("HTTP: concurrent JSON requests are batched and answered correctly", async () => {
  const layers = generateDenseLayers([4, 8, 3], 7);
  const before = stats("batched");
  const xs = [1, 2, 3, 4, 5, 6, 7, 8].map((k) => rows(1, 4, 100 + k));
  const replies = await Promise.all(
    xs.map((x) =>
      postJson(ctx.srv.httpUrl, "/v2/models/batched/infer", { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1, 4], data: [...x] }] }),
    ),
  );
  replies.forEach((r, k) => {
    assert.equal(r.status, 200, r.body.toString());
    const want = denseForward(layers, xs[k]!, 1);
    const got: number[] = r.json().outputs[0].data;
    want.forEach((w, i) => assert.ok(Math.abs(got[i]! - w) < 1e-4));
  });
  const s = stats("batched");
  assert.equal(s.inference_count - before.inference_count, 8n);
  // The 2 s delay holds the first requests until all 8 rows are queued: one execution.
  assert.equal(s.execution_count - before.execution_count, 1n);
});

test("addon: tensors given as parts run like the joined buffers; outputs land in each part", async () => {
  const { loadNativeAddon } = await import("../src/native/addon.ts");
  const addon = loadNativeAddon();
  const layers = generateDenseLayers([4, 8, 3], 7);
  const inst = addon.createInstance({ kernel: "dense_mlp", device: "cpu", name: "parts", layers });
  try {
    const xs = [rows(1, 4, 1), rows(3, 4, 2), rows(2, 4, 3)];
    const outs = xs.map((x) => new Float32Array((x.length / 4) * 3));
    const t = await inst.execute({ inputs: [xs.map((x) => new Uint8Array(x.buffer))], outputs: [outs.map((o) => new Uint8Array(o.buffer))], batch: 6 });
    assert.ok(t.computeInferNs > 0);
    xs.forEach((x, k) => {
      const want = denseForward(layers, x, x.length / 4);
      want.forEach((w, i) => assert.ok(Math.abs(outs[k]![i]! - w) < 1e-4, `part ${k} element ${i}`));
    });
    // The parts' total is checked like one buffer's length; parts may not overlap inputs or each other.
    await assert.rejects(inst.execute({ inputs: [xs.map((x) => new Uint8Array(x.buffer))], outputs: [outs.map((o) => new Uint8Array(o.buffer))], batch: 5 }), /request\.inputs\[0\] is 96 bytes; expected 80/);
    await assert.rejects(inst.execute({ inputs: [[]], outputs: [new Uint8Array(12)], batch: 1 }), /request\.inputs\[0\] is an empty array/);
    const shared = new Uint8Array(24);
    await assert.rejects(
      inst.execute({ inputs: [[new Uint8Array(16), new Uint8Array(16)]], outputs: [[shared.subarray(0, 12), shared.subarray(6, 18)]], batch: 2 }),
      /request\.outputs\[0\] part 1 overlaps part 0; outputs must be separate memory/,
    );
  } finally {
    await inst.close();
  }
});
