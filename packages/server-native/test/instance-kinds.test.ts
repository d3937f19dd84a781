// Instance groups: KIND_CPU / KIND_AUTO / KIND_MODEL / KIND_GPU and gpus, the device each instance is
// bound to (InferenceServer.modelInstances), and the load errors for GPU groups that cannot be placed.
// Without a GPU this checks the CPU fallbacks and the KIND_GPU error; with one, the GPU placements.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { backendInfo } from "../src/native/addon.ts";
import { startServer, type RunningServer } from "../src/server.ts";
import { http, tempRepository } from "./helpers.ts";

const info = backendInfo();
const cuda = info.available.includes("cuda");

const dense = (name: string, groups: string) => `name: "${name}"
backend: "dense_mlp"
max_batch_size: 4
input [ { name: "INPUT0", data_type: TYPE_FP32, dims: [ 4 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_FP32, dims: [ 2 ] } ]
instance_group [ ${groups} ]
parameters { key: "layer_sizes" value { string_value: "4,8,2" } }`;

const repo = tempRepository({
  two_cpu: dense("two_cpu", `{ name: "pool", kind: KIND_CPU, count: 2 }`),
  auto: dense("auto", `{ kind: KIND_AUTO, count: 1 }`),
  by_model: dense("by_model", `{ kind: KIND_MODEL }`),
  mixed: dense("mixed", `{ name: "c", kind: KIND_CPU }, { name: "a", kind: KIND_AUTO }`),
  gpu_only: dense("gpu_only", `{ name: "accel", kind: KIND_GPU, count: 1 }`),
  gpu_far: dense("gpu_far", `{ name: "far", kind: KIND_GPU, gpus: [ 99 ] }`),
  cpu_gpus: dense("cpu_gpus", `{ name: "bad", kind: KIND_CPU, gpus: [ 0 ] }`),
});
const ctx = {} as { srv: RunningServer };
before(async () => {
  ctx.srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, strictModelLoad: false });
});
after(async () => {
  await ctx.srv.close();
  repo.remove();
});

const reason = async (model: string): Promise<string> => {
  const index = (await http(ctx.srv.httpUrl, "/v2/repository/index", { body: "{}" })).json() as { name: string; state: string; reason: string }[];
  const e = index.find((m) => m.name === model)!;
  assert.equal(e.state, "UNAVAILABLE");
  return e.reason;
};

test("KIND_CPU count 2: two CPU instances named after the group", () => {
  assert.deepEqual(ctx.srv.server.modelInstances("two_cpu"), [
    { name: "pool_0", device: "CPU", device_id: 0 },
    { name: "pool_1", device: "CPU", device_id: 0 },
  ]);
});

test("KIND_AUTO uses every GPU when CUDA is usable and falls back to the CPU otherwise; the config reports the result", () => {
  const placed = ctx.srv.server.modelInstances("auto");
  const kind = ctx.srv.server.modelConfig("auto").instance_group[0]!.kind;
  if (cuda) {
    assert.deepEqual(placed.map((p) => p.device_id), info.gpus.map((g) => g.id));
    assert.ok(placed.every((p) => p.device === "GPU"));
    assert.equal(kind, "KIND_GPU");
  } else {
    assert.deepEqual(placed, [{ name: "auto_0_0", device: "CPU", device_id: 0 }]);
    assert.equal(kind, "KIND_CPU");
  }
  const mixed = ctx.srv.server.modelInstances("mixed");
  assert.equal(mixed[0]!.device, "CPU");
  assert.equal(mixed.length, 1 + (cuda ? info.gpus.length : 1));
});

test("KIND_MODEL: the native backend picks the device (GPU when usable) and the config keeps KIND_MODEL", async () => {
  const placed = ctx.srv.server.modelInstances("by_model");
  assert.equal(placed[0]!.device, cuda ? "GPU" : "CPU");
  assert.equal(ctx.srv.server.modelConfig("by_model").instance_group[0]!.kind, "KIND_MODEL");
  const r = await http(ctx.srv.httpUrl, "/v2/models/by_model/infer", {
    body: JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] }] }),
  });
  assert.equal(r.status, 200, r.body.toString());
});

test("KIND_GPU without a usable GPU fails the load naming the model and the group", { skip: cuda && "a GPU is usable here" }, async () => {
  const why = await reason("gpu_only");
  assert.match(why, /instance group 'accel' of model 'gpu_only' is KIND_GPU but CUDA is not available/);
  assert.match(why, /gpu_only\/config\.pbtxt:6: /);
});

test("KIND_GPU listing a GPU that is not present fails the load naming the model, the group and the GPUs present", async () => {
  const why = await reason("gpu_far");
  if (cuda) assert.match(why, /instance group 'far' of model 'gpu_far' lists GPU 99, but the GPUs present are \[/);
  else assert.match(why, /instance group 'far' of model 'gpu_far' is KIND_GPU but CUDA is not available/);
});

test("gpus on a KIND_CPU group is a config error naming the field", async () => {
  assert.match(await reason("cpu_gpus"), /cpu_gpus\/config\.pbtxt:6: gpus cannot be listed for a KIND_CPU instance group/);
});

test("GPU instances are each bound to the GPU they were planned on", { skip: !cuda && "no usable GPU here" }, () => {
  const placed = ctx.srv.server.modelInstances("gpu_only");
  assert.deepEqual(placed.map((p) => [p.device, p.device_id]), info.gpus.map((g) => ["GPU", g.id]));
});
