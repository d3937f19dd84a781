// The gRPC front end's hand-written ModelInfer codec (frontends/grpc/infer-wire.ts) against protobufjs, the
// reference it must match: same objects decoded, bytes protobufjs reads back to the same message, and every
// message it does not handle left to protobufjs.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { PROTO_DIR, PROTO_FILES } from "@iaas/client/protocol";
import { decodeInferRequestFast, encodeInferResponseFast } from "../src/frontends/grpc/infer-wire.ts";

const definition = protoLoader.loadSync(
  PROTO_FILES.map((f) => join(PROTO_DIR, f)),
  { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] },
);
const method = (grpc.loadPackageDefinition(definition) as any).inference.GRPCInferenceService.service.ModelInfer;
const encodeRequest = (m: unknown): Buffer => method.requestSerialize(m);
const decodeRequest = (b: Buffer): unknown => method.requestDeserialize(b);
const encodeResponse = (m: unknown): Buffer => method.responseSerialize(m);
const decodeResponse = (b: Buffer): any => method.responseDeserialize(b);

const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);

test("requests with raw_input_contents decode to exactly what protobufjs makes", () => {
  const messages = [
    { model_name: "identity_fp32", inputs: [{ name: "INPUT0", datatype: "FP32", shape: ["16"] }], raw_input_contents: [f32(Array.from({ length: 16 }, (_, i) => i))] },
    {
      model_name: "simple",
      model_version: "1",
      id: "req-7 ✓",
      inputs: [
        { name: "INPUT0", datatype: "INT32", shape: ["1", "16"] },
        { name: "INPUT1", datatype: "INT32", shape: ["1", "16"] },
      ],
      outputs: [{ name: "OUTPUT1" }, { name: "OUTPUT0" }],
      raw_input_contents: [Buffer.alloc(64, 1), Buffer.alloc(64, 2)],
    },
    // int64 shapes beyond 2^53 and negative ones stay exact strings; an empty tensor and empty message.
    { model_name: "m", inputs: [{ name: "X", datatype: "FP32", shape: ["9007199254740993", "-1", "0", "562949953421312"] }], raw_input_contents: [Buffer.alloc(0)] },
    {},
  ];
  for (const m of messages) {
    const bytes = encodeRequest(m);
    const fast = decodeInferRequestFast(bytes);
    assert.notEqual(fast, undefined, JSON.stringify(m));
    assert.deepEqual(fast, decodeRequest(bytes), JSON.stringify(m));
  }
  // Unpacked shape entries and unknown fields (as a newer client might send) are read as protobufjs does.
  const unpacked = Buffer.concat([
    Buffer.from([0x0a, 0x01, 0x6d]), // model_name "m"
    Buffer.from([0x2a, 0x0a, 0x0a, 0x01, 0x41, 0x18, 0x02, 0x18, 0x03, 0x58, 0x05, 0x60]), // input A, shape 2, 3 (unpacked), unknown varint field 11
    Buffer.from([0x01]),
    Buffer.from([0x7a, 0x02, 0x68, 0x69]), // unknown length-delimited field 15
    Buffer.from([0x85, 0x01, 1, 2, 3, 4]), // unknown fixed32 field 16
  ]);
  // Fix the input's length byte: name(3) + two shape entries(4) + unknown varint field(2) = 9.
  unpacked[4] = 9;
  const decoded = decodeInferRequestFast(unpacked.subarray(0, 3 + 2 + 9));
  assert.deepEqual(decoded, decodeRequest(unpacked.subarray(0, 3 + 2 + 9)));
  assert.deepEqual(decodeInferRequestFast(unpacked), decodeRequest(unpacked));
  assert.deepEqual((decodeInferRequestFast(unpacked) as any).inputs[0].shape, ["2", "3"]);
});

test("requests with parameters or typed contents, and malformed bytes, are left to protobufjs", () => {
  const withParams = encodeRequest({ model_name: "m", parameters: { priority: { int64_param: "1" } } });
  const inputParams = encodeRequest({ model_name: "m", inputs: [{ name: "A", datatype: "BYTES", shape: ["1"], parameters: { binary_data_size: { int64_param: "4" } } }] });
  const outputParams = encodeRequest({ model_name: "m", outputs: [{ name: "O", parameters: { classification: { int64_param: "2" } } }] });
  const contents = encodeRequest({ model_name: "m", inputs: [{ name: "A", datatype: "INT32", shape: ["2"], contents: { int_contents: [1, 2] } }] });
  for (const bytes of [withParams, inputParams, outputParams, contents]) assert.equal(decodeInferRequestFast(bytes), undefined);
  // Truncated: a length running past the end, a varint cut short, a known field with the wrong wire type.
  const good = encodeRequest({ model_name: "identity", raw_input_contents: [Buffer.alloc(8)] });
  assert.equal(decodeInferRequestFast(good.subarray(0, good.length - 1)), undefined);
  assert.equal(decodeInferRequestFast(Buffer.from([0x0a, 0x80])), undefined);
  assert.equal(decodeInferRequestFast(Buffer.from([0x08, 0x01])), undefined);
});

test("answers encode to bytes protobufjs reads back as the same message; others are left to protobufjs", () => {
  const answers = [
    { model_name: "identity_fp32", model_version: "1", id: "", outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [16] }], raw_output_contents: [f32(Array.from({ length: 16 }, (_, i) => i / 2))] },
    {
      model_name: "simple",
      model_version: "1",
      id: "abc ✓",
      outputs: [
        { name: "OUTPUT0", datatype: "INT32", shape: [1, 16] },
        { name: "OUTPUT1", datatype: "INT32", shape: [] },
      ],
      raw_output_contents: [Buffer.alloc(64, 3), Buffer.alloc(0)],
    },
    { model_name: "", model_version: "", id: "", outputs: [], raw_output_contents: [] },
    { model_name: "big", model_version: "2", id: "x", outputs: [{ name: "O", datatype: "UINT8", shape: [300, 2 ** 40] }], raw_output_contents: [Buffer.alloc(70000, 9)] },
  ];
  for (const a of answers) {
    const fast = encodeInferResponseFast(a);
    assert.ok(fast !== undefined, JSON.stringify(a.outputs));
    assert.deepEqual(decodeResponse(fast), decodeResponse(encodeResponse(a)));
  }
  const shm = { model_name: "m", model_version: "1", id: "", outputs: [{ name: "O", datatype: "FP32", shape: [1], parameters: { shared_memory_region: { string_param: "r" } } }], raw_output_contents: [Buffer.alloc(0)] };
  const typed = { model_name: "m", model_version: "1", id: "", outputs: [{ name: "O", datatype: "INT32", shape: [1], contents: { int_contents: [1] } }] };
  const params = { model_name: "m", model_version: "1", id: "", parameters: { sequence_id: { int64_param: "3" } }, outputs: [], raw_output_contents: [] };
  for (const m of [shm, typed, params]) assert.equal(encodeInferResponseFast(m), undefined);
});
