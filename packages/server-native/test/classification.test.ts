// Classification extension: an output requested with `classification: N` comes back as BYTES
// "value:index[:label]" for the top N classes of each batch element, labels from label_filename.
// identity models make the expected strings exact (the output is the input).
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { decodeBytesElements, toFp16 } from "@iaas/client/protocol";
import { DEFAULT_MODEL_REPOSITORY } from "../src/server.ts";
import { denseForward, generateDenseLayers } from "../src/backends/dense-mlp-weights.ts";
import { binaryBody, http, postJson, serveForSuite, splitBinaryResponse } from "./helpers.ts";

const batched = (name: string, type: string, labels = "") => `name: "${name}"
backend: "identity"
max_batch_size: 4
input [ { name: "INPUT0", data_type: ${type}, dims: [ 5 ] } ]
output [ { name: "OUTPUT0", data_type: ${type}, dims: [ 5 ]${labels ? ` label_filename: "${labels}"` : ""} } ]
instance_group [ { kind: KIND_CPU } ]`;

const ctx = serveForSuite({
  cls_fp32: batched("cls_fp32", "TYPE_FP32", "labels.txt"),
  cls_int32: batched("cls_int32", "TYPE_INT32"),
  cls_fp16: batched("cls_fp16", "TYPE_FP16"),
  cls_flat: `name: "cls_flat"
backend: "identity"
max_batch_size: 0
input [ { name: "INPUT0", data_type: TYPE_INT64, dims: [ -1 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_INT64, dims: [ -1 ] } ]
instance_group [ { kind: KIND_CPU } ]`,
  cls_bytes: `name: "cls_bytes"
backend: "identity"
max_batch_size: 0
input [ { name: "INPUT0", data_type: TYPE_STRING, dims: [ -1 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_STRING, dims: [ -1 ] } ]
instance_group [ { kind: KIND_CPU } ]`,
  dense_mlp: readFileSync(join(DEFAULT_MODEL_REPOSITORY, "dense_mlp", "config.pbtxt"), "utf8"),
});
// Labels with a ':' inside: only the first two colons separate the fields.
writeFileSync(join(ctx.dir, "cls_fp32", "labels.txt"), "cat\ndog\nbird: small\nfish\n");
writeFileSync(join(ctx.dir, "dense_mlp", "labels.txt"), readFileSync(join(DEFAULT_MODEL_REPOSITORY, "dense_mlp", "labels.txt")));


const ROWS = [
  [0.1, 0.9, 0.5, -1, 0.7],
  [3, 2, 1, 2, 0.25],
];

test("HTTP JSON: top N per batch element, labels where the file has one, value with 6 decimals", async () => {
  const r = await postJson(ctx.srv.httpUrl, "/v2/models/cls_fp32/infer", {
    inputs: [{ name: "INPUT0", datatype: "FP32", shape: [2, 5], data: ROWS.flat() }],
    outputs: [{ name: "OUTPUT0", parameters: { classification: 3 } }],
  });
  assert.equal(r.status, 200, r.body.toString());
  const out = r.json().outputs[0];
  assert.equal(out.datatype, "BYTES");
  assert.deepEqual(out.shape, [2, 3]);
  assert.deepEqual(out.data, [
    "0.900000:1:dog",
    "0.700000:4",
    "0.500000:2:bird: small",
    "3.000000:0:cat",
    // Ties keep the lower index first.
    "2.000000:1:dog",
    "2.000000:3:fish",
  ]);
});

test("HTTP binary output, integer values, N capped at the class count, non-batched shape [N]", async () => {
  const ints = await postJson(ctx.srv.httpUrl, "/v2/models/cls_int32/infer", {
    inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 5], data: [4, -8, 16, 15, 0] }],
    outputs: [{ name: "OUTPUT0", parameters: { classification: 9, binary_data: true } }],
  });
  const { header, blobs } = splitBinaryResponse(ints);
  assert.deepEqual(header.outputs[0].shape, [1, 5]);
  assert.deepEqual(decodeBytesElements(blobs.get("OUTPUT0")!).map((b) => Buffer.from(b).toString()), ["16:2", "15:3", "4:0", "0:4", "-8:1"]);

  // INT64 beyond 2^53 keeps its exact value in the result string.
  const flat = await http(ctx.srv.httpUrl, "/v2/models/cls_flat/infer", {
    body: '{"inputs":[{"name":"INPUT0","datatype":"INT64","shape":[4],"data":[1,9007199254740993,3,-2]}],"outputs":[{"name":"OUTPUT0","parameters":{"classification":2}}]}',
  });
  assert.equal(flat.status, 200, flat.body.toString());
  assert.deepEqual(flat.json().outputs[0].shape, [2]);
  assert.deepEqual(flat.json().outputs[0].data, ["9007199254740993:1", "3:2"]);
});

test("FP16 outputs are classified by their float value; binary request bodies work too", async () => {
  const half = toFp16([0.5, 2, -3, 1.5, 0]);
  const { body, headerLength } = binaryBody(
    { inputs: [{ name: "INPUT0", datatype: "FP16", shape: [1, 5], parameters: { binary_data_size: 10 } }], outputs: [{ name: "OUTPUT0", parameters: { classification: 2 } }] },
    [new Uint8Array(half.buffer)],
  );
  const r = await http(ctx.srv.httpUrl, "/v2/models/cls_fp16/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
  assert.equal(r.status, 200, r.body.toString());
  assert.deepEqual(r.json().outputs[0].data, ["2.000000:1", "1.500000:3"]);
});

test("gRPC: classification as int64_param, result in raw_output_contents", async () => {
  const res = await ctx.client.call("ModelInfer", {
    model_name: "cls_fp32",
    inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1, 5] }],
    outputs: [{ name: "OUTPUT0", parameters: { classification: { int64_param: 2 } } }],
    raw_input_contents: [Buffer.from(Float32Array.from(ROWS[0]!).buffer)],
  });
  assert.deepEqual(res.outputs[0].datatype, "BYTES");
  assert.deepEqual(res.outputs[0].shape, ["1", "2"]);
  assert.deepEqual(decodeBytesElements(res.raw_output_contents[0]).map((b) => Buffer.from(b).toString()), ["0.900000:1:dog", "0.700000:4"]);
});

test("dense_mlp ships labels: the top classes are the reference forward pass's largest outputs", async () => {
  const x = Array.from({ length: 256 }, (_, i) => Math.cos(i / 7));
  const r = await postJson(ctx.srv.httpUrl, "/v2/models/dense_mlp/infer", {
    inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1, 256], data: x }],
    outputs: [{ name: "OUTPUT0", parameters: { classification: 3 } }],
  });
  assert.equal(r.status, 200, r.body.toString());
  const want = Array.from(denseForward(generateDenseLayers([256, 1024, 1024, 16], 42), Float32Array.from(x), 1));
  const top = want.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 3);
  const labels = readFileSync(join(DEFAULT_MODEL_REPOSITORY, "dense_mlp", "labels.txt"), "utf8").trim().split("\n");
  const got = r.json().outputs[0].data.map((s: string) => s.split(":"));
  assert.deepEqual(got.map((g: string[]) => [Number(g[1]), g[2]]), top.map(([, i]) => [i, labels[i]]));
  got.forEach((g: string[], k: number) => assert.ok(Math.abs(Number(g[0]) - top[k]![0]) < 1e-3, `${g[0]} vs ${top[k]![0]}`));
});

test("bad requests: N not a positive integer, BYTES outputs; a missing label file fails the load", async () => {
  const bad = await postJson(ctx.srv.httpUrl, "/v2/models/cls_int32/infer", {
    inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 5], data: [1, 2, 3, 4, 5] }],
    outputs: [{ name: "OUTPUT0", parameters: { classification: 0 } }],
  });
  assert.equal(bad.status, 400);
  assert.match(bad.json().error, /output 'OUTPUT0': parameter 'classification' must be a positive integer/);
  const bytes = await postJson(ctx.srv.httpUrl, "/v2/models/cls_bytes/infer", {
    inputs: [{ name: "INPUT0", datatype: "BYTES", shape: [1], data: ["a"] }],
    outputs: [{ name: "OUTPUT0", parameters: { classification: 1 } }],
  });
  assert.equal(bytes.status, 400);
  assert.match(bytes.json().error, /is BYTES; classification needs a numeric output/);
  await assert.rejects(
    ctx.client.call("ModelInfer", {
      model_name: "cls_int32",
      inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 5] }],
      outputs: [{ name: "OUTPUT0", parameters: { classification: { string_param: "two" } } }],
      raw_input_contents: [Buffer.alloc(20)],
    }),
    (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
  );
  const load = await postJson(ctx.srv.httpUrl, "/v2/repository/models/cls_int32/load", {
    parameters: { config: JSON.stringify({ name: "cls_int32", backend: "identity", max_batch_size: 4, input: [{ name: "INPUT0", data_type: "TYPE_INT32", dims: [5] }], output: [{ name: "OUTPUT0", data_type: "TYPE_INT32", dims: [5], label_filename: "../../etc/passwd" }] }) },
  });
  assert.equal(load.status, 400);
  assert.match(load.json().error, /label file '..\/..\/etc\/passwd' of output 'OUTPUT0' must be a relative path inside the model directory/);
  const missing = await postJson(ctx.srv.httpUrl, "/v2/repository/models/cls_int32/load", {
    parameters: { config: JSON.stringify({ name: "cls_int32", backend: "identity", max_batch_size: 4, input: [{ name: "INPUT0", data_type: "TYPE_INT32", dims: [5] }], output: [{ name: "OUTPUT0", data_type: "TYPE_INT32", dims: [5], label_filename: "nope.txt" }] }) },
  });
  assert.equal(missing.status, 400);
  assert.match(missing.json().error, /cannot read label file 'nope.txt'/);
});
