import { test } from "node:test";
import assert from "node:assert/strict";
import * as protoLoader from "@grpc/proto-loader";
import { Tensor } from "../src/tensor.ts";
import { decodeInferResponse, encodeInferRequest } from "../src/transport/grpc/infer-codec.ts";
import { parametersFromWire, parametersToWire } from "../src/transport/grpc/parameters.ts";
import { LOADER_OPTIONS } from "../src/transport/grpc/service.ts";

// Encode/decode through the real protobuf definitions, as grpc-js will.
const definition = protoLoader.loadSync("grpc_service.proto", LOADER_OPTIONS);
const methods = definition["inference.GRPCInferenceService"] as protoLoader.ServiceDefinition;
const infer = methods.ModelInfer!;

test("requests carry one raw_input_contents entry per input and no typed contents", () => {
  const inputs = [
    new Tensor("A", "INT32", [2], new Int32Array([1, -1])),
    new Tensor("S", "BYTES", [1], ["xy"]),
    Tensor.fromFloat32("H", "FP16", [1], [2]),
  ];
  const msg = encodeInferRequest({ model: "m", version: "3", id: "i", inputs, binaryInputs: true, binaryOutputs: true });
  const wire = infer.requestSerialize(msg);
  const back = infer.requestDeserialize(wire) as Record<string, unknown> & {
    inputs: Record<string, unknown>[];
    raw_input_contents: Buffer[];
  };
  assert.equal(back.model_name, "m");
  assert.equal(back.model_version, "3");
  assert.equal(back.inputs.length, 3);
  for (const i of back.inputs) assert.equal(i.contents, undefined);
  assert.deepEqual(back.inputs[0], { name: "A", datatype: "INT32", shape: ["2"], parameters: {} });
  assert.deepEqual(back.raw_input_contents.map((b) => Array.from(b)), [
    [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
    [2, 0, 0, 0, 0x78, 0x79],
    [0x00, 0x40],
  ]);
});

test("parameters use the InferParameter oneof, uint64 beyond int64, and come back exact", () => {
  const params = { flag: false, n: 7, f: 0.5, s: "x", big: 2n ** 63n, neg: -(2n ** 62n) };
  const wire = parametersToWire(params)!;
  assert.deepEqual(wire.big, { uint64_param: "9223372036854775808" });
  assert.deepEqual(wire.n, { int64_param: 7 });
  assert.deepEqual(wire.f, { double_param: 0.5 });
  const msg = encodeInferRequest({ model: "m", inputs: [], parameters: params, binaryInputs: true, binaryOutputs: true });
  const back = infer.requestDeserialize(infer.requestSerialize(msg)) as { parameters: Record<string, never> };
  assert.deepEqual(parametersFromWire(back.parameters), {
    flag: false,
    n: 7,
    f: 0.5,
    s: "x",
    big: 2n ** 63n,
    neg: -(2n ** 62n),
  });
  assert.throws(() => parametersToWire({ huge: 2n ** 64n }), /does not fit int64 or uint64/);
});

function roundTripResponse(message: object) {
  return decodeInferResponse(infer.responseDeserialize(infer.responseSerialize(message)) as never);
}

test("responses read raw_output_contents when present (Triton)", () => {
  const r = roundTripResponse({
    model_name: "m",
    model_version: "1",
    id: "q",
    outputs: [
      { name: "O", datatype: "FP32", shape: [2] },
      { name: "B", datatype: "BOOL", shape: [1] },
    ],
    raw_output_contents: [Buffer.from(new Float32Array([1.5, 2]).buffer), Buffer.from([1])],
  });
  assert.equal(r.modelVersion, "1");
  assert.deepEqual(Array.from(r.outputs[0]!.data as Float32Array), [1.5, 2]);
  assert.deepEqual(Array.from(r.outputs[1]!.data as Uint8Array), [1]);
});

test("responses read typed contents when there is no raw (KServe, MLServer), every datatype", () => {
  const outputs = [
    { name: "bool", datatype: "BOOL", shape: [2], contents: { bool_contents: [true, false] } },
    { name: "i8", datatype: "INT8", shape: [2], contents: { int_contents: [-128, 127] } },
    { name: "i16", datatype: "INT16", shape: [1], contents: { int_contents: [-32768] } },
    { name: "i32", datatype: "INT32", shape: [1], contents: { int_contents: [-2147483648] } },
    { name: "i64", datatype: "INT64", shape: [1], contents: { int64_contents: ["-9223372036854775808"] } },
    { name: "u8", datatype: "UINT8", shape: [1], contents: { uint_contents: [255] } },
    { name: "u16", datatype: "UINT16", shape: [1], contents: { uint_contents: [65535] } },
    { name: "u32", datatype: "UINT32", shape: [1], contents: { uint_contents: [4294967295] } },
    { name: "u64", datatype: "UINT64", shape: [1], contents: { uint64_contents: ["18446744073709551615"] } },
    { name: "f32", datatype: "FP32", shape: [1], contents: { fp32_contents: [0.25] } },
    { name: "f64", datatype: "FP64", shape: [1], contents: { fp64_contents: [1e300] } },
    { name: "s", datatype: "BYTES", shape: [2], contents: { bytes_contents: [Buffer.from("ab"), Buffer.from("")] } },
  ];
  const r = roundTripResponse({ model_name: "m", outputs });
  const values = Object.fromEntries(r.outputs.map((t) => [t.name, t.datatype === "BYTES" ? t.strings() : Array.from(t.data as ArrayLike<unknown>)]));
  assert.deepEqual(values, {
    bool: [1, 0],
    i8: [-128, 127],
    i16: [-32768],
    i32: [-2147483648],
    i64: [-(2n ** 63n)],
    u8: [255],
    u16: [65535],
    u32: [4294967295],
    u64: [2n ** 64n - 1n],
    f32: [0.25],
    f64: [1e300],
    s: ["ab", ""],
  });
  assert.ok(r.outputs[4]!.data instanceof BigInt64Array);
  assert.ok(r.outputs[1]!.data instanceof Int8Array);
});

test("FP16 without raw contents and raw/outputs count mismatch are reported", () => {
  assert.throws(
    () => roundTripResponse({ outputs: [{ name: "h", datatype: "FP16", shape: [1] }] }),
    /output "h" is FP16, which only raw_output_contents can carry/,
  );
  assert.throws(
    () =>
      roundTripResponse({
        outputs: [{ name: "a", datatype: "INT8", shape: [1] }, { name: "b", datatype: "INT8", shape: [1] }],
        raw_output_contents: [Buffer.from([1])],
      }),
    /2 outputs but 1 raw_output_contents/,
  );
});
