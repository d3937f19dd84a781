// Model versions: numeric folders and version_policy (latest N, all, specific) decide what is served;
// ready, metadata, config, statistics and infer address a version over HTTP and gRPC alike.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { parseJson } from "@iaas/client/protocol";
import { http, identityConfig, postJson, serveForSuite } from "./helpers.ts";

const ctx = serveForSuite({
  latest2: identityConfig("latest2", "TYPE_INT32", "version_policy: { latest: { num_versions: 2 } }"),
  every: identityConfig("every", "TYPE_INT32", "version_policy: { all: {} }"),
  picked: identityConfig("picked", "TYPE_INT32", "version_policy: { specific: { versions: [1, 3] } }"),
  plain: identityConfig("plain", "TYPE_INT32"),
});
// The repository has 1/ in every model; add 2/ and 3/.
for (const m of ["latest2", "every", "picked", "plain"]) for (const v of ["2", "3"]) mkdirSync(join(ctx.dir, m, v));


const SERVED: Record<string, string[]> = { latest2: ["2", "3"], every: ["1", "2", "3"], picked: ["1", "3"], plain: ["3"] };

test("version_policy picks the served versions (metadata, index, ready)", async () => {
  for (const [model, versions] of Object.entries(SERVED)) {
    assert.deepEqual((await http(ctx.srv.httpUrl, `/v2/models/${model}`)).json().versions, versions, model);
    assert.deepEqual((await ctx.client.call("ModelMetadata", { name: model, version: "" })).versions, versions, model);
    for (const v of ["1", "2", "3"]) {
      const served = versions.includes(v);
      const r = await http(ctx.srv.httpUrl, `/v2/models/${model}/versions/${v}/ready`);
      assert.equal(r.status, served ? 200 : 400, `${model} v${v}`);
      assert.deepEqual(await ctx.client.call("ModelReady", { name: model, version: v }), { ready: served }, `${model} v${v} gRPC`);
    }
  }
  const index = (await postJson(ctx.srv.httpUrl, "/v2/repository/index", {})).json();
  assert.deepEqual(
    index.filter((m: any) => m.name === "picked"),
    [
      { name: "picked", version: "1", state: "READY", reason: "" },
      { name: "picked", version: "3", state: "READY", reason: "" },
    ],
  );
});

test("infer by version answers with that version; an unserved version is 404 / NOT_FOUND", async () => {
  const body = { inputs: [{ name: "INPUT0", datatype: "INT32", shape: [2], data: [5, -5] }] };
  for (const v of ["1", "2", "3"]) {
    const r = await postJson(ctx.srv.httpUrl, `/v2/models/every/versions/${v}/infer`, body);
    assert.equal(r.status, 200);
    assert.equal(r.json().model_version, v);
    assert.deepEqual(r.json().outputs[0].data, [5, -5]);
    const g = await ctx.client.call("ModelInfer", {
      model_name: "every",
      model_version: v,
      inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1] }],
      raw_input_contents: [Buffer.from(Int32Array.of(7).buffer)],
    });
    assert.equal(g.model_version, v);
  }
  assert.equal((await postJson(ctx.srv.httpUrl, "/v2/models/every/infer", body)).json().model_version, "3", "no version: the latest");
  const missing = await postJson(ctx.srv.httpUrl, "/v2/models/picked/versions/2/infer", body);
  assert.equal(missing.status, 404);
  assert.match(missing.json().error, /'picked' version 2 is not found \(served: 1, 3\)/);
  await assert.rejects(
    ctx.client.call("ModelInfer", { model_name: "picked", model_version: "2", inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1] }], raw_input_contents: [Buffer.alloc(4)] }),
    (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND,
  );
  assert.equal((await postJson(ctx.srv.httpUrl, "/v2/models/every/versions/x/infer", body)).status, 400);
});

test("config and metadata by version, over both protocols", async () => {
  const cfg = (await http(ctx.srv.httpUrl, "/v2/models/picked/versions/3/config")).json();
  assert.deepEqual(cfg.version_policy, { specific: { versions: [1, 3] } });
  assert.equal((await http(ctx.srv.httpUrl, "/v2/models/picked/versions/2/config")).status, 404);
  const g = await ctx.client.call("ModelConfig", { name: "picked", version: "1" });
  assert.equal(g.config.name, "picked");
  assert.equal((await http(ctx.srv.httpUrl, "/v2/models/latest2/versions/2")).json().name, "latest2");
  await assert.rejects(ctx.client.call("ModelMetadata", { name: "latest2", version: "1" }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
});

test("statistics per version count that version's requests only", async () => {
  const send = (v: string, n: number) =>
    Promise.all(Array.from({ length: n }, () => postJson(ctx.srv.httpUrl, `/v2/models/latest2/versions/${v}/infer`, { inputs: [{ name: "INPUT0", datatype: "INT32", shape: [3], data: [1, 2, 3] }] })));
  await send("2", 2);
  await send("3", 5);
  const all = (parseJson((await http(ctx.srv.httpUrl, "/v2/models/latest2/stats")).body.toString()) as any).model_stats;
  assert.deepEqual(all.map((s: any) => [s.version, Number(s.execution_count)]), [["2", 2], ["3", 5]]);
  const v3 = (parseJson((await http(ctx.srv.httpUrl, "/v2/models/latest2/versions/3/stats")).body.toString()) as any).model_stats;
  assert.equal(v3.length, 1);
  assert.equal(Number(v3[0].inference_stats.success.count), 5);
  const g2 = (await ctx.client.call("ModelStatistics", { name: "latest2", version: "2" })).model_stats;
  assert.deepEqual(g2.map((s: any) => [s.version, s.execution_count]), [["2", "2"]]);
  assert.equal((await http(ctx.srv.httpUrl, "/v2/models/latest2/versions/1/stats")).status, 404);
});
