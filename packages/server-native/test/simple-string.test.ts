// The simple_string model of the default repository (Triton's example): BYTES decimal integers in,
// their sum and difference out as strings, with batching and 32-bit wrap-around, over HTTP and gRPC.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { decodeBytesElements, encodeBytesElements, parseJson } from "@iaas/client/protocol";
import { DEFAULT_MODEL_REPOSITORY } from "../src/server.ts";
import { binaryBody, http, postJson, serveForSuite, splitBinaryResponse } from "./helpers.ts";

const ctx = serveForSuite({ simple_string: readFileSync(join(DEFAULT_MODEL_REPOSITORY, "simple_string", "config.pbtxt"), "utf8") });

const strings = (raw: Uint8Array): string[] => decodeBytesElements(raw).map((b) => Buffer.from(b).toString());
const range = (f: (i: number) => number): string[] => Array.from({ length: 16 }, (_, i) => String(f(i)));

test("metadata: BYTES [-1,16] in and out", async () => {
  const meta = (await http(ctx.srv.httpUrl, "/v2/models/simple_string")).json();
  assert.deepEqual(meta.inputs, [
    { name: "INPUT0", datatype: "BYTES", shape: [-1, 16] },
    { name: "INPUT1", datatype: "BYTES", shape: [-1, 16] },
  ]);
  assert.deepEqual(meta.outputs.map((o: any) => o.datatype), ["BYTES", "BYTES"]);
});

test("HTTP JSON, batch of 2: sum and difference as decimal strings", async () => {
  const a = [...range((i) => i), ...range((i) => 100 * i)];
  const b = [...range(() => 1), ...range((i) => -i)];
  const r = await postJson(ctx.srv.httpUrl, "/v2/models/simple_string/infer", {
    inputs: [
      { name: "INPUT0", datatype: "BYTES", shape: [2, 16], data: a },
      { name: "INPUT1", datatype: "BYTES", shape: [2, 16], data: b },
    ],
  });
  assert.equal(r.status, 200, r.body.toString());
  const [sum, diff] = r.json().outputs;
  assert.deepEqual(sum.shape, [2, 16]);
  assert.deepEqual(sum.data, a.map((x, i) => String(Number(x) + Number(b[i]))));
  assert.deepEqual(diff.data, a.map((x, i) => String(Number(x) - Number(b[i]))));
});

test("HTTP binary in and out; int32 wrap-around; spaces and '+' accepted", async () => {
  const a = range((i) => (i === 0 ? 2147483647 : i));
  const b = range((i) => (i === 0 ? 1 : -2147483648 + i));
  b[1] = " +5 ";
  const A = encodeBytesElements(a);
  const B = encodeBytesElements(b);
  const { body, headerLength } = binaryBody(
    {
      inputs: [
        { name: "INPUT0", datatype: "BYTES", shape: [1, 16], parameters: { binary_data_size: A.byteLength } },
        { name: "INPUT1", datatype: "BYTES", shape: [1, 16], parameters: { binary_data_size: B.byteLength } },
      ],
      parameters: { binary_data_output: true },
    },
    [A, B],
  );
  const r = await http(ctx.srv.httpUrl, "/v2/models/simple_string/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
  assert.equal(r.status, 200, r.body.toString());
  const { blobs } = splitBinaryResponse(r);
  const sum = strings(blobs.get("OUTPUT0")!);
  assert.equal(sum[0], "-2147483648", "2147483647 + 1 wraps");
  assert.equal(sum[1], "6");
  assert.equal(strings(blobs.get("OUTPUT1")!)[2], "-2147483648", "2 - (-2147483646) wraps too");
  assert.equal(strings(blobs.get("OUTPUT1")!)[0], "2147483646", "2147483647 - 1 does not");
});

test("gRPC raw contents and typed bytes_contents give the same answer", async () => {
  const a = range((i) => i * 3);
  const b = range((i) => 7 - i);
  const raw = await ctx.client.call("ModelInfer", {
    model_name: "simple_string",
    inputs: [{ name: "INPUT0", datatype: "BYTES", shape: [1, 16] }, { name: "INPUT1", datatype: "BYTES", shape: [1, 16] }],
    raw_input_contents: [encodeBytesElements(a), encodeBytesElements(b)],
  });
  const want = a.map((x, i) => String(Number(x) + Number(b[i])));
  assert.deepEqual(strings(raw.raw_output_contents[0]), want);
  const typed = await ctx.client.call("ModelInfer", {
    model_name: "simple_string",
    inputs: [
      { name: "INPUT0", datatype: "BYTES", shape: [1, 16], contents: { bytes_contents: a.map((s) => Buffer.from(s)) } },
      { name: "INPUT1", datatype: "BYTES", shape: [1, 16], contents: { bytes_contents: b.map((s) => Buffer.from(s)) } },
    ],
    outputs: [{ name: "OUTPUT1" }],
  });
  assert.deepEqual(typed.outputs.map((o: any) => o.name), ["OUTPUT1"]);
  assert.deepEqual(strings(typed.raw_output_contents[0]), a.map((x, i) => String(Number(x) - Number(b[i]))));
});

test("strings that are not int32 decimals are INVALID_ARG naming input and element; stats count both", async () => {
  const good = range((i) => i);
  const bad = [...good];
  bad[5] = "12x";
  const r = await postJson(ctx.srv.httpUrl, "/v2/models/simple_string/infer", {
    inputs: [
      { name: "INPUT0", datatype: "BYTES", shape: [1, 16], data: good },
      { name: "INPUT1", datatype: "BYTES", shape: [1, 16], data: bad },
    ],
  });
  assert.equal(r.status, 400);
  assert.match(r.json().error, /input 'INPUT1' of model 'simple_string': element 5 is "12x", expected a decimal integer in the int32 range/);
  bad[5] = "2147483648";
  await assert.rejects(
    ctx.client.call("ModelInfer", {
      model_name: "simple_string",
      inputs: [{ name: "INPUT0", datatype: "BYTES", shape: [1, 16] }, { name: "INPUT1", datatype: "BYTES", shape: [1, 16] }],
      raw_input_contents: [encodeBytesElements(bad), encodeBytesElements(good)],
    }),
    (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /element 5 is "2147483648"/.test(e.details),
  );
  const stats = (parseJson((await http(ctx.srv.httpUrl, "/v2/models/simple_string/stats")).body.toString()) as any).model_stats[0];
  assert.ok(stats.inference_stats.fail.count >= 2);
  assert.ok(stats.inference_stats.success.count >= 4);
});
