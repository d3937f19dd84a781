// End to end against the real reference server (@iaas/server-native, built): every operation over
// HTTP with JSON tensors, HTTP with binary tensors, and gRPC.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// Lives in the cross-package test/ folder: @iaas/server-native depends on @iaas/client, so the client's
// own tests cannot depend on the server without a workspace cycle.
import { startServer } from "@iaas/server-native";
import {
  DATATYPES,
  InferenceError,
  Tensor,
  createClient,
  toBf16,
  toFp16,
  type ClientOptions,
  type DataType,
  type InferOptions,
  type InferenceClient,
} from "@iaas/client";
import { expectCode } from "./client-fixtures.ts";

const configName = (dt: DataType) => (dt === "BYTES" ? "TYPE_STRING" : `TYPE_${dt}`);

// A repository made for these tests: one identity model per datatype and Triton's `simple`.
function makeRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), "iaas-client-e2e-"));
  const model = (name: string, text: string) => {
    mkdirSync(join(dir, name, "1"), { recursive: true });
    writeFileSync(join(dir, name, "config.pbtxt"), text);
  };
  for (const dt of DATATYPES) {
    const t = configName(dt);
    model(
      `identity_${dt.toLowerCase()}`,
      `name: "identity_${dt.toLowerCase()}"\nbackend: "identity"\nmax_batch_size: 0\n` +
        `input [ { name: "INPUT0" data_type: ${t} dims: [ -1 ] } ]\n` +
        `output [ { name: "OUTPUT0" data_type: ${t} dims: [ -1 ] } ]\n`,
    );
  }
  model(
    "simple",
    `name: "simple"\nbackend: "simple"\nmax_batch_size: 8\n` +
      `input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]\n` +
      `output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]\n`,
  );
  return dir;
}

// Edge values per datatype; with `jsonSafe` none that JSON cannot carry (non-UTF-8 BYTES, -0).
function sample(dt: DataType, jsonSafe: boolean): Tensor {
  switch (dt) {
    case "BOOL":
      return new Tensor("INPUT0", dt, [3], new Uint8Array([1, 0, 1]));
    case "UINT8":
      return new Tensor("INPUT0", dt, [3], new Uint8Array([0, 1, 255]));
    case "UINT16":
      return new Tensor("INPUT0", dt, [3], new Uint16Array([0, 1, 65535]));
    case "UINT32":
      return new Tensor("INPUT0", dt, [3], new Uint32Array([0, 1, 4294967295]));
    case "UINT64":
      return new Tensor("INPUT0", dt, [3], new BigUint64Array([0n, 2n ** 53n + 1n, 2n ** 64n - 1n]));
    case "INT8":
      return new Tensor("INPUT0", dt, [3], new Int8Array([-128, 0, 127]));
    case "INT16":
      return new Tensor("INPUT0", dt, [3], new Int16Array([-32768, 0, 32767]));
    case "INT32":
      return new Tensor("INPUT0", dt, [3], new Int32Array([-2147483648, 0, 2147483647]));
    case "INT64":
      return new Tensor("INPUT0", dt, [3], new BigInt64Array([-(2n ** 63n), 2n ** 53n + 1n, 2n ** 63n - 1n]));
    case "FP16":
      return new Tensor("INPUT0", dt, [4], toFp16([1.5, -65504, 2 ** -24, Infinity]));
    case "BF16":
      return new Tensor("INPUT0", dt, [3], toBf16([1.5, -3.0e38, 2 ** -133]));
    case "FP32":
      return new Tensor("INPUT0", dt, [4], new Float32Array([0.1, jsonSafe ? -2.5 : -0, 3.4028234663852886e38, 1.401298464324817e-45]));
    case "FP64":
      return new Tensor("INPUT0", dt, [3], new Float64Array([0.1, -1e300, 5e-324]));
    case "BYTES":
      return new Tensor("INPUT0", dt, [3], jsonSafe ? ["", "héllo", "a\u0000b"] : [new Uint8Array([0, 255, 128]), "", "x"]);
  }
}

function values(t: Tensor): unknown[] {
  if (t.datatype === "BYTES") return (t.data as readonly (Uint8Array | string)[]).map((e) => Buffer.from(e as Uint8Array).toString("hex"));
  return Array.from(t.data as ArrayLike<unknown>, (v) => (Object.is(v, -0) ? "-0" : v));
}

function bytesHex(t: Tensor): string[] {
  return (t.data as readonly (Uint8Array | string)[]).map((e) => Buffer.from(typeof e === "string" ? Buffer.from(e) : e).toString("hex"));
}

let server: Awaited<ReturnType<typeof startServer>>;
let repository: string;

before(async () => {
  repository = makeRepository();
  server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, modelRepository: repository });
});

after(async () => {
  await server?.close();
  rmSync(repository, { recursive: true, force: true });
});

const MODES: { name: string; options: () => Omit<ClientOptions, "url">; url: () => string; json: boolean }[] = [
  { name: "HTTP JSON", options: () => ({ binaryInputs: false, binaryOutputs: false }), url: () => server.httpUrl, json: true },
  { name: "HTTP binary", options: () => ({}), url: () => server.httpUrl, json: false },
  { name: "gRPC", options: () => ({ protocol: "grpc" }), url: () => server.grpcUrl, json: false },
];

for (const mode of MODES) {
  describe(mode.name, () => {
    let client: InferenceClient;
    before(() => {
      client = createClient({ url: mode.url(), ...mode.options(), timeoutMs: 20_000 });
    });
    after(() => client.close());

    test("health, readiness and metadata", async () => {
      assert.equal(await client.isServerLive(), true);
      assert.equal(await client.isServerReady(), true);
      assert.equal(await client.isModelReady("simple"), true);
      assert.equal(await client.isModelReady("no_such_model"), false);
      const meta = await client.serverMetadata();
      assert.ok(meta.name.length > 0);
      assert.ok(meta.extensions.includes("binary_tensor_data"), meta.extensions.join(","));
      const m = await client.modelMetadata("simple");
      assert.equal(m.name, "simple");
      assert.deepEqual(
        m.inputs.map((t) => [t.name, t.datatype, t.shape]),
        [
          ["INPUT0", "INT32", [-1, 16]],
          ["INPUT1", "INT32", [-1, 16]],
        ],
      );
      assert.deepEqual(m.outputs.map((t) => t.name), ["OUTPUT0", "OUTPUT1"]);
      assert.equal((await client.modelMetadata("simple", { version: "1" })).name, "simple");
      assert.equal(await client.isModelReady("simple", { version: "1" }), true);
      assert.equal(await client.isModelReady("simple", { version: "7" }), false);
      const config = await client.modelConfig("simple");
      assert.equal(config.name, "simple");
      assert.equal(Number(config.max_batch_size), 8);
      assert.equal((config.input as { data_type: string }[])[0]!.data_type, "TYPE_INT32");
    });

    test("simple: sum and difference of a batch of 2, echoed id", async () => {
      const a = Int32Array.from({ length: 32 }, (_, i) => i);
      const b = Int32Array.from({ length: 32 }, (_, i) => 1000 - i);
      const r = await client.infer(
        "simple",
        [new Tensor("INPUT0", "INT32", [2, 16], a), new Tensor("INPUT1", "INT32", [2, 16], b)],
        { id: "req-42", version: "1" },
      );
      assert.equal(r.modelName, "simple");
      assert.equal(r.modelVersion, "1");
      assert.equal(r.id, "req-42");
      assert.deepEqual(r.output("OUTPUT0").shape, [2, 16]);
      assert.deepEqual(Array.from(r.output("OUTPUT0").data as Int32Array), Array.from(a, (v, i) => v + b[i]!));
      assert.deepEqual(Array.from(r.output("OUTPUT1").data as Int32Array), Array.from(a, (v, i) => v - b[i]!));
      const only = await client.infer(
        "simple",
        [new Tensor("INPUT0", "INT32", [1, 16], a.subarray(0, 16)), new Tensor("INPUT1", "INT32", [1, 16], b.subarray(0, 16))],
        { outputs: ["OUTPUT1"] },
      );
      assert.deepEqual(only.outputs.map((t) => t.name), ["OUTPUT1"]);
      assert.throws(() => only.output("OUTPUT0"), /no output "OUTPUT0".*OUTPUT1/);
    });

    test("every datatype round-trips through identity", async () => {
      for (const dt of DATATYPES) {
        const input = sample(dt, mode.json);
        const options: InferOptions = {};
        // FP16/BF16 exist only in binary form: in JSON mode ask for them binary, the rest as JSON.
        if (mode.json) options.outputs = [{ name: "OUTPUT0", binary: dt === "FP16" || dt === "BF16" }];
        const r = await client.infer(`identity_${dt.toLowerCase()}`, [input], options);
        const out = r.output("OUTPUT0");
        assert.equal(out.datatype, dt);
        assert.deepEqual(out.shape, input.shape, dt);
        if (dt === "BYTES") assert.deepEqual(bytesHex(out), bytesHex(input), dt);
        else {
          assert.equal(out.data.constructor, input.data.constructor, dt);
          assert.deepEqual(values(out), values(input), dt);
        }
      }
    });

    test("empty and large tensors", async () => {
      const empty = await client.infer("identity_fp32", [new Tensor("INPUT0", "FP32", [0], new Float32Array(0))]);
      assert.deepEqual(empty.output("OUTPUT0").shape, [0]);
      // 6 MiB: above grpc-js's default 4 MiB receive limit and the HTTP single-buffer threshold.
      const n = mode.json ? 20_000 : (6 << 20) / 4;
      const big = Float32Array.from({ length: n }, (_, i) => i * 0.5);
      const r = await client.infer("identity_fp32", [new Tensor("INPUT0", "FP32", [n], big)]);
      const out = r.output("OUTPUT0").data as Float32Array;
      assert.equal(out.length, n);
      assert.equal(out[n - 1], (n - 1) * 0.5);
      assert.deepEqual(Buffer.from(out.buffer, out.byteOffset, out.byteLength).equals(Buffer.from(big.buffer)), true);
    });

    test("errors: unknown model, wrong shape, wrong datatype, unknown output", async () => {
      const t = new Tensor("INPUT0", "FP32", [2], new Float32Array(2));
      const e = await expectCode(client.infer("no_such_model", [t]), "not_found", /no_such_model/);
      if (mode.name.startsWith("HTTP")) assert.equal(e.httpStatus, 404);
      else assert.equal(e.grpcCode, 5);
      await expectCode(client.modelMetadata("no_such_model"), "not_found");
      await expectCode(client.infer("identity_fp32", [new Tensor("INPUT0", "FP32", [2, 2], new Float32Array(4))]), "invalid_argument");
      await expectCode(client.infer("identity_fp32", [new Tensor("INPUT0", "INT32", [2], new Int32Array(2))]), "invalid_argument", /INT32|FP32/);
      const a = new Tensor("INPUT0", "INT32", [1, 15], new Int32Array(15));
      const b = new Tensor("INPUT1", "INT32", [1, 15], new Int32Array(15));
      await expectCode(client.infer("simple", [a, b]), "invalid_argument");
      await expectCode(client.infer("identity_fp32", [t], { outputs: ["NOPE"] }), "invalid_argument", /NOPE/);
      await expectCode(client.infer("identity_fp32", [t], { signal: AbortSignal.abort() }), "cancelled");
    });

    test("statistics count inferences exactly", async () => {
      const before = (await client.modelStatistics("identity_int8"))[0]!;
      assert.equal(before.name, "identity_int8");
      const t = new Tensor("INPUT0", "INT8", [1], new Int8Array([1]));
      for (let i = 0; i < 3; i++) await client.infer("identity_int8", [t]);
      const afterStats = (await client.modelStatistics("identity_int8"))[0]!;
      assert.equal(typeof afterStats.inference_count, "bigint");
      assert.equal(afterStats.inference_count - before.inference_count, 3n);
      assert.equal(afterStats.inference_stats.success.count - before.inference_stats.success.count, 3n);
      assert.ok(afterStats.inference_stats.success.ns > before.inference_stats.success.ns);
      assert.ok(afterStats.last_inference > 0n);
      const all = await client.modelStatistics();
      assert.ok(all.some((s) => s.name === "simple") && all.some((s) => s.name === "identity_int8"));
    });

    test("repository: unload, load back with a config override", async () => {
      const model = "identity_uint16";
      await client.unloadModel(model);
      assert.equal(await client.isModelReady(model), false);
      // Servers differ on the code for an unloaded model (Triton: unavailable); either says it cannot serve.
      const gone = await client.infer(model, [new Tensor("INPUT0", "UINT16", [1], new Uint16Array(1))]).catch((e: unknown) => e);
      assert.ok(gone instanceof InferenceError && ["not_found", "unavailable"].includes(gone.code), String(gone));
      await client.loadModel(model, {
        config: {
          name: model,
          backend: "identity",
          max_batch_size: 0,
          input: [{ name: "IN", data_type: "TYPE_UINT16", dims: [-1] }],
          output: [{ name: "OUT", data_type: "TYPE_UINT16", dims: [-1] }],
        },
      });
      assert.equal(await client.isModelReady(model), true);
      const meta = await client.modelMetadata(model);
      assert.deepEqual(meta.inputs.map((t) => t.name), ["IN"]);
      const r = await client.infer(model, [new Tensor("IN", "UINT16", [2], new Uint16Array([7, 65535]))]);
      assert.deepEqual(Array.from(r.output("OUT").data as Uint16Array), [7, 65535]);
      await client.loadModel(model); // back to the file's config
      assert.deepEqual((await client.modelMetadata(model)).inputs.map((t) => t.name), ["INPUT0"]);
    });
  });
}
