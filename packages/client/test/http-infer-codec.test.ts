import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../src/tensor.ts";
import { InferenceError } from "../src/errors.ts";
import { decodeInferResponse, encodeInferRequest } from "../src/transport/http/infer-codec.ts";
import type { InferRequest } from "../src/transport/transport.ts";

function request(over: Partial<InferRequest>): InferRequest {
  return { model: "m", inputs: [], binaryInputs: true, binaryOutputs: true, ...over };
}

function concat(chunks: Uint8Array[]): Buffer {
  return Buffer.concat(chunks);
}

test("binary request: JSON header with binary_data_size, then the raw inputs in order, header length exact", () => {
  const a = new Tensor("A", "FP32", [2], new Float32Array([1, 2]));
  const s = new Tensor("S", "BYTES", [1], ["é"]);
  const body = encodeInferRequest(request({ inputs: [a, s], id: "r1" }));
  assert.equal(body.chunks[1]!.buffer, a.data.buffer, "numeric input bytes are not copied");
  const all = concat(body.chunks);
  assert.equal(all.byteLength, body.byteLength);
  const header = JSON.parse(all.subarray(0, body.headerLength).toString("utf8"));
  assert.deepEqual(header, {
    id: "r1",
    parameters: { binary_data_output: true },
    inputs: [
      { name: "A", shape: [2], datatype: "FP32", parameters: { binary_data_size: 8 } },
      { name: "S", shape: [1], datatype: "BYTES", parameters: { binary_data_size: 6 } },
    ],
  });
  const rest = all.subarray(body.headerLength);
  assert.deepEqual(Array.from(new Float32Array(rest.buffer.slice(rest.byteOffset, rest.byteOffset + 8))), [1, 2]);
  assert.deepEqual(Array.from(rest.subarray(8)), [2, 0, 0, 0, 0xc3, 0xa9]);
  assert.ok(body.binary);
});

test("header length counts bytes, not characters", () => {
  const t = new Tensor("ü", "INT8", [1], new Int8Array([5]));
  const body = encodeInferRequest(request({ inputs: [t], id: "日本" }));
  const header = body.chunks[0]!;
  assert.equal(body.headerLength, header.byteLength);
  assert.ok(body.headerLength > JSON.stringify(JSON.parse(Buffer.from(header).toString())).length - 1);
  JSON.parse(Buffer.from(header).toString("utf8"));
});

test("JSON request: data inline, INT64 exact; FP16 still binary; requested outputs carry binary_data", () => {
  const i64 = new Tensor("I", "INT64", [2], new BigInt64Array([2n ** 62n + 1n, -3n]));
  const h = Tensor.fromFloat32("H", "FP16", [1], [1]);
  const body = encodeInferRequest(
    request({
      inputs: [i64, h],
      binaryInputs: false,
      outputs: [{ name: "O", binary: false }, { name: "P", binary: true, parameters: { classification: 2 } }],
      parameters: { big: 2n ** 64n - 1n },
    }),
  );
  const text = Buffer.from(body.chunks[0]!).toString();
  assert.match(text, /"data":\[4611686018427387905,-3\]/);
  assert.match(text, /"big":18446744073709551615/);
  const header = JSON.parse(text);
  assert.deepEqual(header.inputs[1].parameters, { binary_data_size: 2 });
  assert.deepEqual(header.outputs, [
    { name: "O", parameters: { binary_data: false } },
    { name: "P", parameters: { classification: 2, binary_data: true } },
  ]);
  assert.equal(header.parameters.binary_data_output, undefined, "per-output settings replace binary_data_output");
  assert.equal(body.chunks.length, 2);
});

test("all-JSON request has no binary part", () => {
  const body = encodeInferRequest(
    request({ inputs: [new Tensor("x", "FP32", [1], new Float32Array([0.5]))], binaryInputs: false, binaryOutputs: false }),
  );
  assert.equal(body.binary, false);
  assert.equal(body.headerLength, body.byteLength);
  assert.deepEqual(JSON.parse(Buffer.from(body.chunks[0]!).toString()), {
    inputs: [{ name: "x", shape: [1], datatype: "FP32", data: [0.5] }],
  });
});

function responseBody(header: object, blobs: Uint8Array[]): { body: Buffer; headerLength: number } {
  const h = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([h, ...blobs]), headerLength: h.byteLength };
}

test("binary response: outputs with binary_data_size consume the binary section in order; others are JSON", () => {
  const f = new Float64Array([0.25, -8]);
  const bytes = Buffer.from([1, 0, 0, 0, 0x7a]);
  const { body, headerLength } = responseBody(
    {
      model_name: "m",
      model_version: "1",
      id: "q",
      parameters: { sequence_id: 7 },
      outputs: [
        { name: "F", datatype: "FP64", shape: [2], parameters: { binary_data_size: 16 } },
        { name: "J", datatype: "INT32", shape: [1, 2], data: [[3, 4]] },
        { name: "B", datatype: "BYTES", shape: [1], parameters: { binary_data_size: 5 } },
      ],
    },
    [new Uint8Array(f.buffer), bytes],
  );
  const r = decodeInferResponse(body, headerLength);
  assert.equal(r.modelName, "m");
  assert.equal(r.modelVersion, "1");
  assert.equal(r.id, "q");
  assert.deepEqual(r.parameters, { sequence_id: 7 });
  assert.deepEqual(Array.from(r.outputs[0]!.data as Float64Array), [0.25, -8]);
  assert.deepEqual(Array.from(r.outputs[1]!.data as Int32Array), [3, 4]);
  assert.deepEqual(r.outputs[1]!.shape, [1, 2]);
  assert.deepEqual(r.outputs[2]!.strings(), ["z"]);
});

test("round trip: a request's binary framing decodes with the response decoder", () => {
  const inputs = [
    new Tensor("U", "UINT64", [1], new BigUint64Array([2n ** 64n - 2n])),
    new Tensor("B", "BOOL", [3], new Uint8Array([1, 0, 1])),
    Tensor.fromFloat32("H", "BF16", [2], [1.5, -4]),
  ];
  const enc = encodeInferRequest(request({ inputs }));
  const all = concat(enc.chunks);
  // Treat the request header's inputs as response outputs: same framing rules.
  const header = JSON.parse(all.subarray(0, enc.headerLength).toString());
  const { body, headerLength } = responseBody({ model_name: "m", outputs: header.inputs }, [all.subarray(enc.headerLength)]);
  const r = decodeInferResponse(body, headerLength);
  assert.deepEqual(Array.from(r.outputs[0]!.data as BigUint64Array), [2n ** 64n - 2n]);
  assert.deepEqual(Array.from(r.outputs[1]!.data as Uint8Array), [1, 0, 1]);
  assert.deepEqual(Array.from(r.outputs[2]!.toFloat32()), [1.5, -4]);
});

test("JSON response keeps INT64/UINT64 exact", () => {
  const text = '{"model_name":"m","outputs":[{"name":"O","datatype":"UINT64","shape":[2],"data":[18446744073709551615,1]}]}';
  const r = decodeInferResponse(Buffer.from(text), undefined);
  assert.deepEqual(Array.from(r.outputs[0]!.data as BigUint64Array), [18446744073709551615n, 1n]);
});

test("malformed responses are internal errors that say what is wrong", () => {
  const bad = (body: Buffer, len: number | undefined, pattern: RegExp) =>
    assert.throws(
      () => decodeInferResponse(body, len),
      (e: unknown) => e instanceof InferenceError && e.code === "internal" && pattern.test(e.message),
    );
  const { body, headerLength } = responseBody(
    { outputs: [{ name: "F", datatype: "FP32", shape: [4], parameters: { binary_data_size: 16 } }] },
    [new Uint8Array(8)],
  );
  bad(body, headerLength, /output "F" needs 16 bytes/);
  bad(body, body.byteLength + 1, /inference-header-content-length/i);
  bad(Buffer.from("{nope"), undefined, /does not parse/);
  bad(Buffer.from('{"outputs":[{"name":"x","datatype":"FP8","shape":[1]}]}'), undefined, /unknown datatype "FP8"/);
  bad(Buffer.from('{"outputs":[{"name":"x","datatype":"INT32","shape":[2],"data":[1]}]}'), undefined, /1 elements, shape needs 2/);
});
