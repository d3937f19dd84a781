// A config read back from the server (HTTP GET .../config, gRPC ModelConfig decoded with proto3 defaults,
// as grpc-js clients do) loads again unchanged as a load override: every field the server emits is
// accepted. Fields iaas does not use are accepted only with their default value.
import assert from "node:assert/strict";
import { test } from "node:test";
import { http, postJson, serveForSuite } from "./helpers.ts";

const ctx = serveForSuite({
  batched: `name: "batched"
backend: "identity"
max_batch_size: 4
input [ { name: "INPUT0", data_type: TYPE_FP32, dims: [ 3 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_FP32, dims: [ 3 ] } ]
instance_group [ { kind: KIND_CPU, count: 2 } ]
dynamic_batching { preferred_batch_size: [ 2 ] max_queue_delay_microseconds: 100 priority_levels: 2 default_priority_level: 1
  default_queue_policy { max_queue_size: 8 } priority_queue_policy { key: 2 value { timeout_action: DELAY default_timeout_microseconds: 5 } } }
parameters { key: "k" value { string_value: "v" } }`,
  sequenced: `name: "sequenced"
backend: "simple_sequence"
max_batch_size: 2
input [ { name: "INPUT", data_type: TYPE_INT32, dims: [ 1 ] } ]
output [ { name: "OUTPUT", data_type: TYPE_INT32, dims: [ 1 ] } ]
instance_group [ { kind: KIND_CPU } ]
sequence_batching {
  max_sequence_idle_microseconds: 3000000
  control_input [ { name: "START", control [ { kind: CONTROL_SEQUENCE_START, int32_false_true: [ 0, 1 ] } ] } ]
}`,
});

const loadBack = async (model: string, config: unknown) => {
  const r = await postJson(ctx.srv.httpUrl, `/v2/repository/models/${model}/load`, { parameters: { config: JSON.stringify(config) } });
  assert.equal(r.status, 200, `${model}: ${r.body.toString()}`);
};

for (const model of ["batched", "sequenced"]) {
  test(`${model}: the HTTP config loads back unchanged and reads back the same`, async () => {
    const config = (await http(ctx.srv.httpUrl, `/v2/models/${model}/config`)).json();
    await loadBack(model, config);
    assert.deepEqual((await http(ctx.srv.httpUrl, `/v2/models/${model}/config`)).json(), config);
  });

  test(`${model}: the gRPC config (every proto3 default filled in) loads back unchanged`, async () => {
    const { config } = await ctx.client.call("ModelConfig", { name: model });
    // The fields the CLI helper hit: proto3 defaults of fields iaas does not use.
    assert.deepEqual(config.instance_group[0].profile, []);
    await loadBack(model, config);
    const again = await ctx.client.call("ModelConfig", { name: model });
    assert.deepEqual(again.config, config);
  });
}

test("a field iaas does not use is refused when it is not at its default value", async () => {
  const { config } = await ctx.client.call("ModelConfig", { name: "batched" });
  config.instance_group[0].profile = ["trt-profile-0"];
  const r = await postJson(ctx.srv.httpUrl, "/v2/repository/models/batched/load", { parameters: { config: JSON.stringify(config) } });
  assert.equal(r.status, 400);
  assert.match(r.json().error, /instance_group\[0\]\.profile.*not supported by iaas/);
  const typo = await postJson(ctx.srv.httpUrl, "/v2/repository/models/batched/load", {
    parameters: { config: JSON.stringify({ ...config, max_batch_sise: 4 }) },
  });
  assert.equal(typo.status, 400);
  assert.match(typo.json().error, /unknown field 'max_batch_sise'/);
});
