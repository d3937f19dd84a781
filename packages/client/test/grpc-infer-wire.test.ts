// The hand-written ModelInfer codec agrees with protobufjs (the reference) byte for byte in meaning:
// requests it writes decode to the same message, responses protobufjs writes read back to the same object.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as protoLoader from "@grpc/proto-loader";
import { LOADER_OPTIONS } from "../src/transport/grpc/service.ts";
import { deserializeInferResponse, serializeInferRequest } from "../src/transport/grpc/infer-wire.ts";

const definition = protoLoader.loadSync("grpc_service.proto", LOADER_OPTIONS);
const method = (definition["inference.GRPCInferenceService"] as protoLoader.ServiceDefinition).ModelInfer!;
// The definition above is a fresh load: these are protobufjs's own functions.
const pbSerializeRequest = method.requestSerialize as (v: unknown) => Buffer;
const pbDeserializeRequest = method.requestDeserialize as (b: Buffer) => Record<string, unknown>;
const pbSerializeResponse = method.responseSerialize as (v: unknown) => Buffer;
const pbDeserializeResponse = method.responseDeserialize as (b: Buffer) => Record<string, unknown>;
const noFallback = () => {
  throw new Error("fallback used");
};

const big = new Uint8Array(70_000).map((_, i) => i & 0xff);

test("requests: every field, parameter kind, long names and large raw tensors decode identically", () => {
  const message = {
    model_name: "dense_mlp_ünïcode",
    model_version: "3",
    id: "x".repeat(300), // sub-message lengths over 127 need multi-byte varints
    parameters: {
      flag: { bool_param: true },
      off: { bool_param: false },
      n: { int64_param: 42 },
      neg: { int64_param: "-5" },
      max: { int64_param: "9223372036854775807" },
      u: { uint64_param: "18446744073709551615" },
      s: { string_param: "é".repeat(100) },
      d: { double_param: -0.125 },
    },
    inputs: [
      { name: "INPUT0", datatype: "FP32", shape: [1, 17_500] },
      { name: "INPUT1", datatype: "INT32", shape: [0], parameters: { p: { int64_param: 7 } } },
      { name: "SCALAR", datatype: "INT64", shape: [] },
    ],
    outputs: [{ name: "OUTPUT0", parameters: { binary_data: { bool_param: true } } }, { name: "OUTPUT1", parameters: {} }],
    raw_input_contents: [big, new Uint8Array(0), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)],
  };
  const mine = serializeInferRequest(message, noFallback);
  const decoded = pbDeserializeRequest(mine);
  const reference = pbDeserializeRequest(pbSerializeRequest(message));
  assert.deepEqual(decoded, reference);
  assert.equal(decoded.model_name, "dense_mlp_ünïcode");
  assert.deepEqual((decoded.raw_input_contents as Buffer[])[0], Buffer.from(big));
  assert.deepEqual((decoded.parameters as Record<string, unknown>).u, { uint64_param: "18446744073709551615" });
});

test("requests with typed contents go to protobufjs", () => {
  let used = false;
  const msg = { model_name: "m", inputs: [{ name: "A", datatype: "INT32", shape: [1], contents: { int_contents: [1] } }] };
  serializeInferRequest(msg, (v) => {
    used = true;
    return pbSerializeRequest(v);
  });
  assert.ok(used);
});

test("responses: fields, parameters, shapes and raw outputs read as protobufjs reads them, raw as views", () => {
  const response = {
    model_name: "simple",
    model_version: "1",
    id: "req-1",
    parameters: {
      triton_final_response: { bool_param: true },
      seq: { uint64_param: "18446744073709551615" },
      neg: { int64_param: "-9223372036854775808" },
      txt: { string_param: "ok" },
      d: { double_param: 2.5 },
    },
    outputs: [
      { name: "OUTPUT0", datatype: "INT32", shape: ["1", "16"], parameters: {} },
      { name: "OUTPUT1", datatype: "FP32", shape: ["17500"], parameters: { binary_data_size: { int64_param: "70000" } } },
    ],
    raw_output_contents: [new Uint8Array(64).fill(3), big],
  };
  const bytes = pbSerializeResponse(response);
  const mine = deserializeInferResponse(bytes, noFallback) as Record<string, unknown>;
  const reference = pbDeserializeResponse(bytes);
  const plain = (o: Record<string, unknown>) => ({ ...o, raw_output_contents: (o.raw_output_contents as Uint8Array[]).map((r) => Array.from(r)) });
  assert.deepEqual(plain(mine), plain(reference));
  const raw = mine.raw_output_contents as Buffer[];
  assert.equal(raw[1]!.buffer, bytes.buffer, "raw outputs are views of the received message");

  const empty = deserializeInferResponse(pbSerializeResponse({}), noFallback);
  assert.deepEqual(empty, pbDeserializeResponse(pbSerializeResponse({})));
});

test("responses with typed contents (KServe, MLServer) and malformed bytes go to protobufjs", () => {
  const typed = pbSerializeResponse({ outputs: [{ name: "O", datatype: "FP32", shape: ["2"], contents: { fp32_contents: [1, 2] } }] });
  let used = 0;
  const fallback = (b: Buffer) => {
    used++;
    return pbDeserializeResponse(b);
  };
  const r = deserializeInferResponse(typed, fallback) as { outputs: { contents: { fp32_contents: number[] } }[] };
  assert.equal(used, 1);
  assert.deepEqual(r.outputs[0]!.contents.fp32_contents, [1, 2]);
  // A string field claiming 5 bytes with 1 left: this reader refuses it and hands it on.
  try {
    deserializeInferResponse(Buffer.from([0x0a, 0x05, 0x61]), fallback);
  } catch {
    // protobufjs's verdict, whichever it is
  }
  assert.equal(used, 2);
});
