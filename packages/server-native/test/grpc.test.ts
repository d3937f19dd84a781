// The gRPC front end against a real server, through a raw grpc-js client built from the protos:
// raw and typed-contents round trips for every datatype, simple's arithmetic, metadata, health,
// repository calls, error codes, and UNIMPLEMENTED for what is not served.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { DATATYPES, jsonToRaw, rawToJson } from "@iaas/client/protocol";
import { identityModels, serveForSuite } from "./helpers.ts";
import { JSON_SAMPLES, rawSample } from "./samples.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_MODEL_REPOSITORY } from "../src/server.ts";

const ctx = serveForSuite({ ...identityModels(), simple: readFileSync(join(DEFAULT_MODEL_REPOSITORY, "simple", "config.pbtxt"), "utf8") });

async function rejects(p: Promise<unknown>, code: grpc.status, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `${grpc.status[err.code]}: ${err.details}`);
    assert.match(err.details, message);
    return true;
  });
}

const CONTENTS_FIELD: Record<string, string> = {
  BOOL: "bool_contents", UINT8: "uint_contents", UINT16: "uint_contents", UINT32: "uint_contents", UINT64: "uint64_contents",
  INT8: "int_contents", INT16: "int_contents", INT32: "int_contents", INT64: "int64_contents", FP32: "fp32_contents",
  FP64: "fp64_contents", BYTES: "bytes_contents",
};

describe("datatype round trips through identity", () => {
  for (const dt of DATATYPES) {
    const model = `identity_${dt.toLowerCase()}`;
    test(`${dt}: raw_input_contents in, raw_output_contents out, bytes identical`, async () => {
      const raw = rawSample(dt);
      const res = await ctx.client.call("ModelInfer", {
        model_name: model,
        id: `g-${dt}`,
        inputs: [{ name: "INPUT0", datatype: dt, shape: [3] }],
        raw_input_contents: [raw],
      });
      assert.equal(res.model_name, model);
      assert.equal(res.model_version, "1");
      assert.equal(res.id, `g-${dt}`);
      assert.deepEqual(res.outputs.map((o: any) => [o.name, o.datatype, o.shape]), [["OUTPUT0", dt, ["3"]]]);
      assert.ok(Buffer.from(res.raw_output_contents[0]).equals(raw));
    });
    if (dt !== "FP16" && dt !== "BF16") {
      test(`${dt}: typed contents in, same bytes out`, async () => {
        const values = JSON_SAMPLES[dt]!;
        const typed = values.map((v) => (typeof v === "bigint" ? v.toString() : dt === "BYTES" ? Buffer.from(v as string) : v));
        const res = await ctx.client.call("ModelInfer", {
          model_name: model,
          inputs: [{ name: "INPUT0", datatype: dt, shape: [values.length], contents: { [CONTENTS_FIELD[dt]!]: typed } }],
        });
        const out = Buffer.from(res.raw_output_contents[0]);
        assert.ok(out.equals(jsonToRaw(dt, values, dt)), `${dt}: ${JSON.stringify(rawToJson(dt, out), (_k, v) => (typeof v === "bigint" ? v.toString() : v))}`);
      });
    }
  }
});

test("simple: sums and differences over gRPC", async () => {
  const a = Int32Array.from({ length: 16 }, (_, i) => i * 3);
  const b = Int32Array.from({ length: 16 }, (_, i) => 100 - i);
  const res = await ctx.client.call("ModelInfer", {
    model_name: "simple",
    inputs: [
      { name: "INPUT0", datatype: "INT32", shape: [1, 16] },
      { name: "INPUT1", datatype: "INT32", shape: [1, 16] },
    ],
    raw_input_contents: [Buffer.from(a.buffer), Buffer.from(b.buffer)],
  });
  const [sum, diff] = res.raw_output_contents.map((r: Buffer) => rawToJson("INT32", r));
  assert.deepEqual(sum, Array.from(a, (x, i) => x + b[i]!));
  assert.deepEqual(diff, Array.from(a, (x, i) => x - b[i]!));
});

test("ModelStreamInfer answers each request in-band, errors included", async () => {
  const call = ctx.client.raw.ModelStreamInfer();
  const responses: any[] = [];
  const done = new Promise<void>((resolve, reject) => {
    call.on("data", (r: any) => responses.push(r));
    call.on("end", resolve);
    call.on("error", reject);
  });
  call.write({ model_name: "identity_int32", id: "s1", inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1] }], raw_input_contents: [rawSample("INT32").subarray(0, 4)] });
  call.write({ model_name: "nope", id: "s2" });
  call.end();
  await done;
  assert.equal(responses.length, 2);
  const ok = responses.find((r) => r.infer_response?.id === "s1");
  assert.ok(ok && ok.error_message === "");
  assert.ok(Buffer.from(ok.infer_response.raw_output_contents[0]).equals(rawSample("INT32").subarray(0, 4)));
  assert.ok(responses.some((r) => /Request for unknown model: 'nope' is not found/.test(r.error_message)));
});

test("metadata, readiness, config and health", async () => {
  assert.deepEqual(await ctx.client.call("ServerLive", {}), { live: true });
  assert.deepEqual(await ctx.client.call("ServerReady", {}), { ready: true });
  const meta = await ctx.client.call("ServerMetadata", {});
  assert.equal(meta.name, "iaas");
  assert.ok(meta.extensions.includes("binary_tensor_data"));
  const mm = await ctx.client.call("ModelMetadata", { name: "simple", version: "" });
  assert.deepEqual(mm.inputs[0], { name: "INPUT0", datatype: "INT32", shape: ["-1", "16"] });
  assert.equal(mm.platform, "simple");
  assert.deepEqual(await ctx.client.call("ModelReady", { name: "simple", version: "1" }), { ready: true });
  assert.deepEqual(await ctx.client.call("ModelReady", { name: "nope", version: "" }), { ready: false });
  const cfg = await ctx.client.call("ModelConfig", { name: "simple", version: "" });
  assert.equal(cfg.config.max_batch_size, 8);
  assert.equal(cfg.config.input[1].data_type, "TYPE_INT32");
  assert.deepEqual(cfg.config.input[1].dims, ["16"]);
  assert.deepEqual(await ctx.client.health(), { status: "SERVING" });
  await rejects(ctx.client.health("other.Service"), grpc.status.NOT_FOUND, /unknown service 'other.Service'/);
  const index = await ctx.client.call("RepositoryIndex", { ready: true });
  assert.ok(index.models.some((m: any) => m.name === "simple" && m.state === "READY" && m.version === "1"));
});

describe("errors", () => {
  test("unknown model -> NOT_FOUND", () => rejects(ctx.client.call("ModelInfer", { model_name: "nope" }), grpc.status.NOT_FOUND, /Request for unknown model: 'nope' is not found/));
  test("wrong shape -> INVALID_ARGUMENT", () =>
    rejects(
      ctx.client.call("ModelInfer", {
        model_name: "simple",
        inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 15] }, { name: "INPUT1", datatype: "INT32", shape: [1, 16] }],
        raw_input_contents: [Buffer.alloc(60), Buffer.alloc(64)],
      }),
      grpc.status.INVALID_ARGUMENT,
      /unexpected shape for input 'INPUT0' for model 'simple'. Expected \[-1,16\], got \[1,15\]/,
    ));
  test("wrong datatype -> INVALID_ARGUMENT", () =>
    rejects(
      ctx.client.call("ModelInfer", { model_name: "identity_int32", inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1] }], raw_input_contents: [Buffer.alloc(4)] }),
      grpc.status.INVALID_ARGUMENT,
      /data-type is 'FP32', but model 'identity_int32' expects 'INT32'/,
    ));
  test("contents and raw_input_contents together -> INVALID_ARGUMENT", () =>
    rejects(
      ctx.client.call("ModelInfer", {
        model_name: "identity_int32",
        inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1], contents: { int_contents: [1] } }],
        raw_input_contents: [Buffer.alloc(4)],
      }),
      grpc.status.INVALID_ARGUMENT,
      /contents field must not be specified when using raw_input_contents for 'INPUT0'/,
    ));
  test("typed contents in the wrong field -> INVALID_ARGUMENT", () =>
    rejects(
      ctx.client.call("ModelInfer", { model_name: "identity_int32", inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1], contents: { fp32_contents: [1] } }] }),
      grpc.status.INVALID_ARGUMENT,
      /datatype INT32 expects 'int_contents', but 'fp32_contents' is set/,
    ));
  test("FP16 typed contents -> INVALID_ARGUMENT", () =>
    rejects(
      ctx.client.call("ModelInfer", { model_name: "identity_fp16", inputs: [{ name: "INPUT0", datatype: "FP16", shape: [1], contents: { fp32_contents: [1] } }] }),
      grpc.status.INVALID_ARGUMENT,
      /FP16 data cannot be sent as typed contents; use raw_input_contents/,
    ));
  test("raw byte size mismatch -> INVALID_ARGUMENT", () =>
    rejects(
      ctx.client.call("ModelInfer", { model_name: "identity_fp64", inputs: [{ name: "INPUT0", datatype: "FP64", shape: [2] }], raw_input_contents: [Buffer.alloc(15)] }),
      grpc.status.INVALID_ARGUMENT,
      /input byte size mismatch for input 'INPUT0' for model 'identity_fp64'. Expected 16, got 15/,
    ));
  test("unsupported RPCs -> UNIMPLEMENTED", async () => {
    await rejects(ctx.client.call("SystemSharedMemoryStatus", {}), grpc.status.UNIMPLEMENTED, /SystemSharedMemoryStatus is not implemented/);
    await rejects(ctx.client.call("CudaSharedMemoryStatus", {}), grpc.status.UNIMPLEMENTED, /CudaSharedMemoryStatus is not implemented/);
  });
  test("the server still answers after malformed requests", async () => {
    const bad = [
      { model_name: "identity_bytes", inputs: [{ name: "INPUT0", datatype: "BYTES", shape: [1] }], raw_input_contents: [Buffer.from([9, 0, 0, 0, 1])] },
      { model_name: "identity_int32", inputs: [{ name: "INPUT0", datatype: "NOPE", shape: [1] }] },
      { model_name: "identity_int32", inputs: [{ name: "INPUT0", datatype: "INT32", shape: [-1] }], raw_input_contents: [Buffer.alloc(4)] },
      { model_name: "identity_int32", inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1] }, { name: "INPUT0", datatype: "INT32", shape: [1] }], raw_input_contents: [Buffer.alloc(4), Buffer.alloc(4)] },
      { model_name: "identity_int32", inputs: [{ name: "INPUT0", datatype: "INT32", shape: [2] }], raw_input_contents: [Buffer.alloc(8), Buffer.alloc(8)] },
      { model_name: "simple", inputs: [] },
    ];
    for (const req of bad) await rejects(ctx.client.call("ModelInfer", req), grpc.status.INVALID_ARGUMENT, /./);
    const res = await ctx.client.call("ModelInfer", { model_name: "identity_int8", inputs: [{ name: "INPUT0", datatype: "INT8", shape: [2] }], raw_input_contents: [Buffer.from([1, 255])] });
    assert.deepEqual([...res.raw_output_contents[0]], [1, 255]);
  });
});
