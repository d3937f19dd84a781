// The client's typed API for Triton's extensions beyond inference, against the real reference server and
// the same over HTTP and gRPC: repository index/load (config and file overrides)/unload, statistics with
// every field, trace and log settings, classification, and the `version` option on every model call.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type RunningServer } from "@iaas/server-native";
import { InferenceError, Tensor, parseClassifications, type Protocol } from "@iaas/client";
import { clientForSuite } from "./client-fixtures.ts";

const identity = (name: string, extra = "") => `name: "${name}"
backend: "identity"
max_batch_size: 4
input [ { name: "INPUT0", data_type: TYPE_FP32, dims: [ 4 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_FP32, dims: [ 4 ]${extra} } ]
instance_group [ { kind: KIND_CPU } ]
`;

function makeRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), "iaas-client-ext-"));
  const model = (name: string, text: string, versions: string[]) => {
    for (const v of versions) mkdirSync(join(dir, name, v), { recursive: true });
    writeFileSync(join(dir, name, "config.pbtxt"), text);
  };
  model("versioned", identity("versioned") + "version_policy: { all: {} }\n", ["1", "2"]);
  model("labelled", identity("labelled", ' label_filename: "labels.txt"'), ["1"]);
  writeFileSync(join(dir, "labelled", "labels.txt"), "north\neast\nsouth\nwest\n");
  return dir;
}

const x = (...v: number[]) => new Tensor("INPUT0", "FP32", [1, 4], Float32Array.from(v));
const rejectsWith = (p: Promise<unknown>, code: string, message: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof InferenceError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });

let repo: string;
let srv: RunningServer;
before(async () => {
  repo = makeRepository();
  srv = await startServer({ modelRepository: repo, httpPort: 0, grpcPort: 0 });
});
after(async () => {
  await srv.close();
  rmSync(repo, { recursive: true, force: true });
});

for (const protocol of ["http", "grpc"] as Protocol[]) {
  describe(`over ${protocol}`, () => {
    const ctx = clientForSuite(() => srv, protocol);

    test("the version option reaches ready, metadata, config, statistics and infer", async () => {
      assert.equal(await ctx.client.isModelReady("versioned", { version: "2" }), true);
      assert.equal(await ctx.client.isModelReady("versioned", { version: "3" }), false);
      assert.deepEqual((await ctx.client.modelMetadata("versioned", { version: "1" })).versions, ["1", "2"]);
      assert.equal((await ctx.client.modelConfig("versioned", { version: "1" })).name, "versioned");
      await rejectsWith(ctx.client.modelConfig("versioned", { version: "3" }), "not_found", /version 3 is not found/);
      const before1 = (await ctx.client.modelStatistics("versioned", { version: "1" }))[0]!.inference_count;
      for (const v of ["1", "1", "2"]) assert.equal((await ctx.client.infer("versioned", [x(1, 2, 3, 4)], { version: v })).modelVersion, v);
      const v1 = await ctx.client.modelStatistics("versioned", { version: "1" });
      assert.deepEqual(v1.map((s) => s.version), ["1"]);
      assert.equal(v1[0]!.inference_count - before1, 2n);
      assert.equal(v1[0]!.execution_count, v1[0]!.inference_stats.success.count);
    });

    test("statistics carry every field: bigint counters, batch_stats, response_stats, memory_usage", async () => {
      const [s] = await ctx.client.modelStatistics("labelled");
      const before = s!.inference_stats.success.count;
      await ctx.client.infer("labelled", [new Tensor("INPUT0", "FP32", [3, 4], new Float32Array(12))]);
      const [after] = await ctx.client.modelStatistics("labelled");
      assert.equal(typeof after!.last_inference, "bigint");
      assert.equal(after!.inference_stats.success.count - before, 1n);
      assert.ok(after!.batch_stats.some((b) => b.batch_size === 3n && b.compute_infer.count >= 1n));
      assert.equal(after!.response_stats["0"]!.success.count, after!.inference_stats.success.count);
      assert.equal(typeof after!.response_stats["0"]!.cancel.ns, "bigint");
      assert.deepEqual(after!.memory_usage, []);
      const all = await ctx.client.modelStatistics();
      assert.deepEqual(all.map((m) => `${m.name}/${m.version}`).filter((n) => !n.startsWith("up")).sort(), ["labelled/1", "versioned/1", "versioned/2"]);
    });

    test("classCount asks for classification; parseClassifications reads scores, indices and labels", async () => {
      const r = await ctx.client.infer("labelled", [new Tensor("INPUT0", "FP32", [2, 4], Float32Array.of(0.5, 4, -1, 2, 9, 8, 7, 6))], {
        outputs: [{ name: "OUTPUT0", classCount: 2 }],
      });
      const out = r.output("OUTPUT0");
      assert.equal(out.datatype, "BYTES");
      assert.deepEqual(out.shape, [2, 2]);
      assert.deepEqual(parseClassifications(out), [
        [
          { score: 4, value: "4.000000", index: 1, label: "east" },
          { score: 2, value: "2.000000", index: 3, label: "west" },
        ],
        [
          { score: 9, value: "9.000000", index: 0, label: "north" },
          { score: 8, value: "8.000000", index: 1, label: "east" },
        ],
      ]);
    });

    test("repository: index with states, load with config and files, unload with unloadDependents", async () => {
      const name = `up_${protocol}`;
      await ctx.client.loadModel(name, {
        config: { name, backend: "identity", max_batch_size: 0, version_policy: { all: {} }, input: [{ name: "I", data_type: "TYPE_INT8", dims: [-1] }], output: [{ name: "O", data_type: "TYPE_INT8", dims: [-1] }] },
        files: { "4/model.bin": new Uint8Array([1, 2]), "7/notes.txt": "text files are sent as UTF-8" },
      });
      assert.deepEqual((await ctx.client.modelMetadata(name)).versions, ["4", "7"]);
      const index = await ctx.client.repositoryIndex();
      assert.deepEqual(index.filter((m) => m.name === name), [
        { name, version: "4", state: "READY", reason: "" },
        { name, version: "7", state: "READY", reason: "" },
      ]);
      await ctx.client.unloadModel(name, { unloadDependents: true });
      const after = await ctx.client.repositoryIndex();
      assert.deepEqual(after.find((m) => m.name === name), { name, version: "", state: "UNAVAILABLE", reason: "unloaded" });
      assert.equal((await ctx.client.repositoryIndex({ ready: true })).some((m) => m.name === name), false);
      await rejectsWith(ctx.client.loadModel(name, { files: { "1/m.bin": "x" } }), "invalid_argument", /files need a config override/);
      await rejectsWith(ctx.client.loadModel("nope"), "not_found", /nope/);
    });

    test("trace settings: global and per model, numbers typed, null clears, server checks values", async () => {
      const g = await ctx.client.traceSettings();
      assert.deepEqual([g.trace_level, g.trace_rate, g.trace_count, g.log_frequency, g.trace_mode], [["OFF"], 1000, -1, 0, "triton"]);
      const set = await ctx.client.updateTraceSettings({ trace_level: ["TIMESTAMPS"], trace_rate: 5 });
      assert.deepEqual([set.trace_level, set.trace_rate], [["TIMESTAMPS"], 5]);
      const m = await ctx.client.updateTraceSettings({ trace_rate: 2, trace_count: 10 }, { model: "labelled" });
      assert.deepEqual([m.trace_rate, m.trace_count, m.trace_level], [2, 10, ["TIMESTAMPS"]]);
      assert.equal((await ctx.client.traceSettings({ model: "versioned" })).trace_rate, 5, "other models: the global value");
      assert.equal((await ctx.client.updateTraceSettings({ trace_rate: null }, { model: "labelled" })).trace_rate, 5);
      await rejectsWith(ctx.client.updateTraceSettings({ trace_rate: 0 }), "invalid_argument", /trace_rate/);
      await rejectsWith(ctx.client.updateTraceSettings({ trace_rate: "5" as never }), "invalid_argument", /trace_rate must be an integer/);
      await rejectsWith(ctx.client.traceSettings({ model: "nope" }), "not_found", /unknown model 'nope'/);
      await ctx.client.updateTraceSettings({ trace_level: null, trace_rate: null, trace_count: null }, { model: "labelled" });
      assert.deepEqual((await ctx.client.updateTraceSettings({ trace_level: null, trace_rate: null })).trace_level, ["OFF"]);
    });

    test("log settings: read and change, typed; bad values refused", async () => {
      const s = await ctx.client.logSettings();
      assert.deepEqual(s, { log_file: "", log_info: true, log_warning: true, log_error: true, log_verbose_level: 0, log_format: "default" });
      const changed = await ctx.client.updateLogSettings({ log_verbose_level: 3, log_warning: false });
      assert.deepEqual([changed.log_verbose_level, changed.log_warning, changed.log_info], [3, false, true]);
      await rejectsWith(ctx.client.updateLogSettings({ log_format: "xml" }), "invalid_argument", /log_format/);
      await rejectsWith(ctx.client.updateLogSettings({ log_info: 1 as never }), "invalid_argument", /log_info must be a boolean/);
      await ctx.client.updateLogSettings({ log_verbose_level: 0, log_warning: true });
    });
  });
}
