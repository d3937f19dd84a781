// The direct ModelInfer codec of the fast path (frontends/grpc/infer-direct.ts) against the general path it
// stands in for: protobufjs decode + decodeInfer, and encodeInfer + protobufjs encode. Same requests, same
// bytes; everything it does not take is left to the general path.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { PROTO_DIR, PROTO_FILES } from "@iaas/client/protocol";
import { decodeModelInferDirect, encodeModelInferDirect } from "../src/frontends/grpc/infer-direct.ts";
import { decodeInfer, encodeInfer, type GrpcInferRequest } from "../src/frontends/grpc/grpc-server.ts";
import type { InferResponse } from "../src/core/types.ts";
import { frameInferResponse } from "../src/frontends/grpc/infer-wire.ts";
import { decodeInferResponse, encodeInferRequest } from "./grpc-raw-call.ts";

const definition = protoLoader.loadSync(
  PROTO_FILES.map((f) => join(PROTO_DIR, f)),
  { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] },
);
const method = (grpc.loadPackageDefinition(definition) as any).inference.GRPCInferenceService.service.ModelInfer;
const pbDecodeRequest = method.requestDeserialize as (b: Buffer) => GrpcInferRequest;
const pbEncodeResponse = method.responseSerialize as (v: unknown) => Buffer;

const f32 = (n: number): Buffer => Buffer.from(Float32Array.from({ length: n }, (_, i) => i / 3).buffer);

const taken: { what: string; message: object }[] = [
  { what: "one FP32 input", message: { model_name: "identity_fp32", inputs: [{ name: "INPUT0", datatype: "FP32", shape: ["16"] }], raw_input_contents: [f32(16)] } },
  {
    what: "version, id, two inputs, two requested outputs, unicode names",
    message: {
      model_name: "modèle",
      model_version: "3",
      id: "req-ü-1",
      inputs: [
        { name: "INPUT0", datatype: "INT32", shape: ["2", "8"] },
        { name: "ÉNTRÉE1", datatype: "BYTES", shape: ["1"] },
      ],
      outputs: [{ name: "OUTPUT0" }, { name: "OUTPUT1" }],
      raw_input_contents: [Buffer.alloc(64, 7), Buffer.from([3, 0, 0, 0, 97, 98, 99])],
    },
  },
  { what: "large and zero dims, empty data", message: { model_name: "m", inputs: [{ name: "X", datatype: "UINT8", shape: ["0", "9007199254740991"] }], raw_input_contents: [Buffer.alloc(0)] } },
  { what: "a scalar (no dims)", message: { model_name: "m", inputs: [{ name: "X", datatype: "FP64", shape: [] }], raw_input_contents: [Buffer.alloc(8, 1)] } },
];

test("requests the direct decoder takes decode exactly as protobufjs + decodeInfer", () => {
  for (const { what, message } of taken) {
    const bytes = encodeInferRequest(message);
    const direct = decodeModelInferDirect(bytes);
    assert.ok(direct !== undefined, `${what}: taken`);
    assert.deepEqual(direct, decodeInfer(pbDecodeRequest(bytes), true), what);
  }
  // Unpacked shape (proto2-style writers) and unknown fields are read too.
  const unpacked = Buffer.concat([
    Buffer.from([0x0a, 1, 0x6d]), // model_name "m"
    Buffer.from([0x2a, 0x0b, 0x0a, 1, 0x58, 0x12, 4, 0x46, 0x50, 0x33, 0x32, 0x18, 2]), // input X FP32, shape [2] unpacked
    Buffer.from([0xf8, 0x07, 1]), // field 127, varint: unknown
    Buffer.from([0x3a, 8, 1, 2, 3, 4, 5, 6, 7, 8]),
  ]);
  const direct = decodeModelInferDirect(unpacked);
  assert.ok(direct !== undefined);
  assert.deepEqual(direct, decodeInfer(pbDecodeRequest(unpacked), true));
});

test("requests with parameters, typed contents, unknown datatypes, odd raw layouts or bad bytes are left to the general path", () => {
  const base = { model_name: "m", inputs: [{ name: "X", datatype: "FP32", shape: ["1"] }], raw_input_contents: [f32(1)] };
  const left: [string, Buffer][] = [
    ["request parameters", encodeInferRequest({ ...base, parameters: { priority: { int64_param: "1" } } })],
    ["input parameters", encodeInferRequest({ ...base, inputs: [{ ...base.inputs[0], parameters: { shared_memory_region: { string_param: "r" } } }] })],
    ["output parameters", encodeInferRequest({ ...base, outputs: [{ name: "Y", parameters: { binary_data: { bool_param: true } } }] })],
    ["typed contents", encodeInferRequest({ model_name: "m", inputs: [{ name: "X", datatype: "FP32", shape: ["1"], contents: { fp32_contents: [1] } }] })],
    ["unknown datatype", encodeInferRequest({ ...base, inputs: [{ name: "X", datatype: "FP33", shape: ["1"] }] })],
    ["no raw contents", encodeInferRequest({ ...base, raw_input_contents: [] })],
    ["more raw entries than inputs", encodeInferRequest({ ...base, raw_input_contents: [f32(1), f32(1)] })],
    ["no inputs", encodeInferRequest({ model_name: "m" })],
    ["negative dim", encodeInferRequest({ ...base, inputs: [{ name: "X", datatype: "FP32", shape: ["-1"] }] })],
    ["raw before inputs", Buffer.concat([Buffer.from([0x3a, 4, 0, 0, 0, 0]), encodeInferRequest({ model_name: "m", inputs: base.inputs })])],
    ["truncated", encodeInferRequest(base).subarray(0, 10)],
    ["garbage", Buffer.from([0xff, 0xff, 0xff])],
  ];
  for (const [what, bytes] of left) assert.equal(decodeModelInferDirect(bytes), undefined, what);
});

test("answers the direct encoder takes are the bytes encodeInfer + protobufjs give, as one gRPC frame", () => {
  const answers: InferResponse[] = [
    { model_name: "identity_fp32", model_version: "1", outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [16], data: f32(16) }] },
    {
      model_name: "modèle",
      model_version: "12",
      id: "req-ü-1",
      outputs: [
        { name: "OUTPUT0", datatype: "INT32", shape: [2, 8], data: Buffer.alloc(64, 9) },
        { name: "SORTIE", datatype: "BYTES", shape: [1], data: Buffer.from([1, 0, 0, 0, 120]), requested: { binary_data: true } },
        { name: "EMPTY", datatype: "FP16", shape: [0, 300], data: Buffer.alloc(0) },
        { name: "SCALAR", datatype: "FP64", shape: [], data: Buffer.alloc(8, 2) },
      ],
    },
    { model_name: "", model_version: "", outputs: [] },
  ];
  for (const response of answers) {
    const direct = encodeModelInferDirect(response);
    assert.ok(direct !== undefined);
    // The general path's bytes (its own fast encoder; it leaves empty strings out, as this one does) ...
    const general = frameInferResponse(encodeInfer(response, false), pbEncodeResponse);
    assert.ok(Buffer.compare(direct, general) === 0, `${response.model_name}: same bytes`);
    // ... and the message protobufjs itself encodes (which writes id "" as an empty field) reads back the same.
    assert.deepEqual(decodeInferResponse(direct.subarray(5)), decodeInferResponse(pbEncodeResponse(encodeInfer(response, false))));
  }
  const base = answers[0]!;
  assert.equal(encodeModelInferDirect({ ...base, parameters: { echo: "x" } }), undefined, "response parameters go the general way");
  assert.equal(
    encodeModelInferDirect({ ...base, outputs: [{ ...base.outputs[0]!, data: Buffer.alloc(0), sharedMemory: { region: "r", byteSize: 64, offset: 0 } }] }),
    undefined,
    "shared-memory outputs go the general way",
  );
});
