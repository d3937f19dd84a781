// Queue policies of the dynamic batcher: max_queue_size refuses with Triton's UNAVAILABLE "Exceeds
// maximum queue size" (HTTP 503, gRPC UNAVAILABLE) and the server keeps serving; queue timeouts reject
// with "Request timeout expired" (or are delayed behind the others with DELAY); a request's `timeout`
// only shortens the default where allow_timeout_override is set; priority levels run level 1 first.
// Each test submits several requests in one tick while the single instance is busy with the first.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import type { InferRequest } from "../src/core/types.ts";
import { postJson, serveForSuite } from "./helpers.ts";

const model = (name: string, batching: string) => `name: "${name}"
backend: "identity"
max_batch_size: 1
input [ { name: "INPUT0", data_type: TYPE_INT32, dims: [ 1 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 1 ] } ]
instance_group [ { kind: KIND_CPU } ]
dynamic_batching { ${batching} }`;

const ctx = serveForSuite({
  small_queue: model("small_queue", "default_queue_policy { max_queue_size: 2 }"),
  // 64 rows through 2048-wide layers keep the instance busy far longer than the 5 ms timeout.
  timeouts: `name: "timeouts"
backend: "dense_mlp"
max_batch_size: 64
input [ { name: "INPUT0", data_type: TYPE_FP32, dims: [ 64 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_FP32, dims: [ 4 ] } ]
instance_group [ { kind: KIND_CPU } ]
parameters { key: "layer_sizes" value { string_value: "64,2048,2048,4" } }
dynamic_batching { default_queue_policy { default_timeout_microseconds: 5000 } }`,
  // Requests wait 1 s for a fuller batch: two of them fill the queue deterministically.
  held: `name: "held"
backend: "identity"
max_batch_size: 8
input [ { name: "INPUT0", data_type: TYPE_INT32, dims: [ 1 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 1 ] } ]
instance_group [ { kind: KIND_CPU } ]
dynamic_batching { max_queue_delay_microseconds: 1000000 default_queue_policy { max_queue_size: 2 } }`,
  overridable: model("overridable", "default_queue_policy { allow_timeout_override: true }"),
  not_overridable: model("not_overridable", ""),
  delayed: model("delayed", "default_queue_policy { allow_timeout_override: true timeout_action: DELAY }"),
  prioritised: model("prioritised", "priority_levels: 3 default_priority_level: 2"),
  per_level: model(
    "per_level",
    "priority_levels: 2 default_priority_level: 2 default_queue_policy { max_queue_size: 1 } priority_queue_policy { key: 1 value { max_queue_size: 0 } }",
  ),
});

const req = (name: string, value: number, parameters?: Record<string, number>): InferRequest => {
  const r: InferRequest = { model: name, inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 1], data: Buffer.from(Int32Array.of(value).buffer) }] };
  if (parameters) r.parameters = parameters;
  return r;
};
type Outcome = { value: number } | { error: string; status: string };
const run = (r: InferRequest): Promise<Outcome> =>
  ctx.srv.server.infer(r).then(
    (res) => ({ value: res.outputs[0]!.data.readInt32LE(0) }),
    (err: { message: string; status: string }) => ({ error: err.message, status: err.status }),
  );
const rejections = (name: string) => ctx.srv.server.queueRejections(name);

test("max_queue_size: the request past it is refused UNAVAILABLE; the queue still serves afterwards", async () => {
  // #0 runs at once, #1 and #2 fill the queue, #3 is refused.
  const outcomes = await Promise.all([0, 1, 2, 3].map((v) => run(req("small_queue", v))));
  assert.deepEqual(outcomes.slice(0, 3), [{ value: 0 }, { value: 1 }, { value: 2 }]);
  const refused = outcomes[3] as { error: string; status: string };
  assert.equal(refused.status, "UNAVAILABLE");
  assert.match(refused.error, /^Exceeds maximum queue size/);
  assert.deepEqual(await run(req("small_queue", 9)), { value: 9 });
  const s = ctx.srv.server.statistics("small_queue")[0]!;
  assert.equal(s.inference_stats.fail.count, 1n);
  assert.equal(s.inference_stats.success.count, 4n);
  assert.deepEqual(rejections("small_queue"), { queue_full: 1, timeout: 0 });
});

test("HTTP answers 503 and gRPC UNAVAILABLE for a full queue", async () => {
  // Two requests wait for their batch to fill: the queue of 2 is full until the 1 s delay sends them.
  const waiting = [0, 1].map((v) => run(req("held", v)));
  const r = await postJson(ctx.srv.httpUrl, "/v2/models/held/infer", { inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 1], data: [5] }] });
  assert.equal(r.status, 503, r.body.toString());
  assert.match(r.json().error, /Exceeds maximum queue size/);
  const err = await ctx.client
    .call("ModelInfer", { model_name: "held", inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 1] }], raw_input_contents: [Buffer.from(Int32Array.of(1).buffer)] })
    .then(
      () => null,
      (e: grpc.ServiceError) => e,
    );
  assert.equal(err?.code, grpc.status.UNAVAILABLE);
  assert.match(err!.details, /Exceeds maximum queue size/);
  assert.deepEqual(await Promise.all(waiting), [{ value: 0 }, { value: 1 }]);
  assert.deepEqual(rejections("held"), { queue_full: 2, timeout: 0 });
});

test("default_timeout_microseconds: requests still queued when it expires are rejected", async () => {
  const rowsOf = (n: number): InferRequest => ({
    model: "timeouts",
    inputs: [{ name: "INPUT0", datatype: "FP32", shape: [n, 64], data: Buffer.alloc(n * 64 * 4) }],
  });
  const outcomes = await Promise.all([64, 1, 1].map((n) => ctx.srv.server.infer(rowsOf(n)).then(
    (res) => ({ value: res.outputs[0]!.shape[0]! }),
    (e: { message: string; status: string }) => ({ error: e.message, status: e.status }),
  )));
  assert.deepEqual(outcomes[0], { value: 64 });
  for (const o of outcomes.slice(1)) {
    assert.equal((o as { status: string }).status, "UNAVAILABLE");
    assert.match((o as { error: string }).error, /^Request timeout expired/);
  }
  assert.deepEqual(rejections("timeouts"), { queue_full: 0, timeout: 2 });
  assert.equal(ctx.srv.server.statistics("timeouts")[0]!.inference_stats.fail.count, 2n);
});

test("the request timeout parameter applies only with allow_timeout_override", async () => {
  const a = await Promise.all([run(req("overridable", 0)), run(req("overridable", 1, { timeout: 1 })), run(req("overridable", 2))]);
  assert.deepEqual(a[0], { value: 0 });
  assert.match((a[1] as { error: string }).error, /Request timeout expired/);
  assert.deepEqual(a[2], { value: 2 });
  const b = await Promise.all([run(req("not_overridable", 0)), run(req("not_overridable", 1, { timeout: 1 }))]);
  assert.deepEqual(b, [{ value: 0 }, { value: 1 }]);
});

test("timeout_action DELAY: an expired request runs after the ones that did not expire", async () => {
  const order: number[] = [];
  const track = (v: number, p?: Record<string, number>) => run(req("delayed", v, p)).then((o) => order.push((o as { value: number }).value));
  await Promise.all([track(0), track(1, { timeout: 1 }), track(2), track(3)]);
  assert.deepEqual(order, [0, 2, 3, 1]);
});

test("priority levels: level 1 runs before the default level, which runs before level 3", async () => {
  const order: number[] = [];
  const track = (v: number, priority?: number) =>
    run(req("prioritised", v, priority === undefined ? undefined : { priority })).then((o) => order.push((o as { value: number }).value));
  // 0 runs at once; the rest wait: 1 at level 3, 2 at the default level (2), 3 at level 1, 4 with an
  // out-of-range priority (default level).
  await Promise.all([track(0), track(1, 3), track(2), track(3, 1), track(4, 9)]);
  assert.deepEqual(order, [0, 3, 2, 4, 1]);
});

test("priority_queue_policy overrides the default policy for its level only", async () => {
  // 0 runs at once; level 2 (default policy) holds one more; level 1 (its own policy) is unlimited.
  const outcomes = await Promise.all([
    run(req("per_level", 0)),
    run(req("per_level", 1)),
    run(req("per_level", 2)),
    run(req("per_level", 3, { priority: 1 })),
    run(req("per_level", 4, { priority: 1 })),
  ]);
  assert.deepEqual(outcomes[0], { value: 0 });
  assert.deepEqual(outcomes[1], { value: 1 });
  assert.match((outcomes[2] as { error: string }).error, /^Exceeds maximum queue size \(model 'per_level', priority level 2: 1 requests queued\)/);
  assert.deepEqual(outcomes.slice(3), [{ value: 3 }, { value: 4 }]);
});
