// Sequence options on the wire, without a server: InferOptions.sequenceId/Start/End become Triton's
// sequence_id / sequence_start / sequence_end request parameters, exact in HTTP JSON (bigint ids as
// integers past 2^53) and over gRPC (int64_param; ids past 2^63 as the int64 of the same bits, which is
// how Triton reads them; strings as string_param), checked through the real protobuf definitions.
// End-to-end sequences against the reference server: test/client-sequences.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as protoLoader from "@grpc/proto-loader";
import { InferenceError } from "../src/errors.ts";
import { withSequenceParameters } from "../src/sequence-parameters.ts";
import { Tensor } from "../src/tensor.ts";
import { encodeInferRequest as encodeGrpc } from "../src/transport/grpc/infer-codec.ts";
import { encodeInferRequest as encodeHttp } from "../src/transport/http/infer-codec.ts";
import { LOADER_OPTIONS } from "../src/transport/grpc/service.ts";
import type { InferRequest } from "../src/transport/transport.ts";

const methods = protoLoader.loadSync("grpc_service.proto", LOADER_OPTIONS)["inference.GRPCInferenceService"] as protoLoader.ServiceDefinition;
const infer = methods.ModelInfer!;

function request(parameters: InferRequest["parameters"]): InferRequest {
  return { model: "m", inputs: [new Tensor("INPUT", "INT32", [1, 1], Int32Array.of(1))], parameters, binaryInputs: false, binaryOutputs: false };
}

/** The request parameters as a gRPC server decodes them (longs as strings, oneofs named). */
function grpcParameters(parameters: InferRequest["parameters"]): Record<string, Record<string, unknown>> {
  const bytes = infer.requestSerialize(encodeGrpc(request(parameters)));
  return (infer.requestDeserialize(bytes) as { parameters: Record<string, Record<string, unknown>> }).parameters;
}

function httpHeader(parameters: InferRequest["parameters"]): string {
  const body = encodeHttp(request(parameters));
  return Buffer.from(body.chunks[0]!).toString("utf8");
}

test("sequence options become sequence_id, sequence_start and sequence_end", () => {
  assert.deepEqual(withSequenceParameters("t", { custom: 1 }, { sequenceId: 5, sequenceStart: true }), {
    custom: 1,
    sequence_id: 5,
    sequence_start: true,
    sequence_end: false,
  });
  assert.equal(withSequenceParameters("t", undefined, {}), undefined);
  const mine = { a: "b" };
  assert.equal(withSequenceParameters("t", mine, { version: "1" } as never), mine);
});

test("HTTP JSON carries uint64 ids exactly and string ids as strings", () => {
  const big = (1n << 63n) + 12345n;
  assert.match(httpHeader(withSequenceParameters("t", undefined, { sequenceId: big, sequenceEnd: true })), /"sequence_id":9223372036854788153,"sequence_start":false,"sequence_end":true/);
  assert.match(httpHeader(withSequenceParameters("t", undefined, { sequenceId: 42, sequenceStart: true })), /"sequence_id":42,"sequence_start":true/);
  assert.match(httpHeader(withSequenceParameters("t", undefined, { sequenceId: "user-1" })), /"sequence_id":"user-1"/);
});

test("gRPC sends integer ids as int64_param (past 2^63 as the same bits) and strings as string_param", () => {
  const big = (1n << 64n) - 2n;
  const p = grpcParameters(withSequenceParameters("t", undefined, { sequenceId: big, sequenceStart: true }));
  assert.equal(p.sequence_id!.int64_param, "-2");
  assert.equal(BigInt.asUintN(64, BigInt(p.sequence_id!.int64_param as string)), big);
  assert.equal(p.sequence_start!.bool_param, true);
  assert.equal(p.sequence_end!.bool_param, false);
  assert.equal(grpcParameters(withSequenceParameters("t", undefined, { sequenceId: 2 ** 53 - 1 })).sequence_id!.int64_param, "9007199254740991");
  assert.equal(grpcParameters(withSequenceParameters("t", undefined, { sequenceId: "s-9" })).sequence_id!.string_param, "s-9");
  // Other uint64 parameters keep uint64_param.
  assert.equal(grpcParameters({ other: (1n << 64n) - 1n }).other!.uint64_param, "18446744073709551615");
});

test("invalid sequence options are invalid_argument errors that say what was wrong", () => {
  const bad = (fields: object, message: RegExp, parameters?: Record<string, string>) =>
    assert.throws(() => withSequenceParameters("infer", parameters, fields), (e: InferenceError) => e.code === "invalid_argument" && message.test(e.message));
  bad({ sequenceId: 0 }, /infer: sequenceId must be a positive integer.*got 0 \(0 and "" mean no sequence\)/);
  bad({ sequenceId: -3 }, /got -3/);
  bad({ sequenceId: 2 ** 53 }, /sequenceId must be/);
  bad({ sequenceId: 1n << 64n }, /got 18446744073709551616n/);
  bad({ sequenceId: "" }, /sequenceId must be/);
  bad({ sequenceStart: true }, /sequenceStart \/ sequenceEnd need a sequenceId/);
  bad({ sequenceId: 1, sequenceStart: 1 }, /sequenceStart must be a boolean, got 1/);
  bad({ sequenceId: 1 }, /parameter 'sequence_id' conflicts with the sequence options/, { sequence_id: "x" });
});
