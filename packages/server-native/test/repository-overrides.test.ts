// Model repository extension beyond plain load/unload: "file:<path>" overrides (base64 over HTTP, bytes
// over gRPC) loaded from a temporary model directory whose version folders are served, the index with
// state and reason for every model, the ready filter, and unload_dependents.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { http, identityConfig, postJson, serveForSuite } from "./helpers.ts";

const ctx = serveForSuite(
  {
    ident: identityConfig("ident", "TYPE_INT32"),
    broken: identityConfig("broken", "TYPE_INT32").replace('backend: "identity"', 'backend: "nope"'),
  },
  // "broken" fails to load: the server starts anyway and lists it as UNAVAILABLE.
  { strictModelLoad: false },
);

const config = (name: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    name,
    backend: "identity",
    max_batch_size: 2,
    input: [{ name: "INPUT0", data_type: "TYPE_FP32", dims: [3] }],
    output: [{ name: "OUTPUT0", data_type: "TYPE_FP32", dims: [3], label_filename: "labels.txt" }],
    instance_group: [{ kind: "KIND_CPU" }],
    ...extra,
  });

/** The temporary model directories of an overridden model: <tmp>/iaas-override-XXXX/<model>. */
const overrideDirs = (model: string): string[] =>
  readdirSync(tmpdir())
    .filter((d) => d.startsWith("iaas-override-"))
    .map((d) => join(tmpdir(), d, model))
    .filter((d) => existsSync(d));

const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");

test("HTTP: a model that is not in the repository, loaded from file overrides; its version folders are served", async () => {
  const r = await postJson(ctx.srv.httpUrl, "/v2/repository/models/uploaded/load", {
    parameters: {
      config: config("uploaded", { version_policy: { all: {} } }),
      "file:1/model.bin": b64(Buffer.from([1, 2, 3])),
      "file:3/model.bin": b64("weights"),
      "file:labels.txt": b64("zero\none\ntwo\n"),
    },
  });
  assert.equal(r.status, 200, r.body.toString());
  const meta = (await http(ctx.srv.httpUrl, "/v2/models/uploaded")).json();
  assert.deepEqual(meta.versions, ["1", "3"]);
  const [dir] = overrideDirs("uploaded");
  assert.ok(dir, "the files are written to a temporary model directory");
  assert.deepEqual(readdirSync(dir).sort(), ["1", "3", "labels.txt"]);
  // The label file came with the override.
  const c = await postJson(ctx.srv.httpUrl, "/v2/models/uploaded/versions/3/infer", {
    inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1, 3], data: [0.25, 0.75, 0.5] }],
    outputs: [{ name: "OUTPUT0", parameters: { classification: 1 } }],
  });
  assert.deepEqual(c.json().outputs[0].data, ["0.750000:1:one"]);
  const index = (await postJson(ctx.srv.httpUrl, "/v2/repository/index", { ready: true })).json();
  assert.deepEqual(index.filter((m: any) => m.name === "uploaded").map((m: any) => m.version), ["1", "3"]);

  assert.equal((await postJson(ctx.srv.httpUrl, "/v2/repository/models/uploaded/unload", { parameters: { unload_dependents: true } })).status, 200);
  assert.equal(existsSync(dir), false, "unloading deletes the temporary directory");
  const after = (await postJson(ctx.srv.httpUrl, "/v2/repository/index", {})).json();
  assert.deepEqual(after.find((m: any) => m.name === "uploaded"), { name: "uploaded", state: "UNAVAILABLE", reason: "unloaded" });
});

test("gRPC: file contents as bytes_param; a reload replaces the previous override directory", async () => {
  const load = (files: Record<string, Buffer>) =>
    ctx.client.call("RepositoryModelLoad", {
      model_name: "ident",
      parameters: {
        config: { string_param: config("ident") },
        ...Object.fromEntries(Object.entries(files).map(([k, v]) => [`file:${k}`, { bytes_param: v }])),
      },
    });
  await load({ "2/model.bin": Buffer.from([0, 255]), "labels.txt": Buffer.from("a\nb\nc\n") });
  assert.deepEqual((await http(ctx.srv.httpUrl, "/v2/models/ident")).json().versions, ["2"]);
  const first = overrideDirs("ident");
  assert.equal(first.length, 1);
  await load({ "5/model.bin": Buffer.from([1]), "labels.txt": Buffer.from("x\ny\nz\n") });
  assert.deepEqual((await http(ctx.srv.httpUrl, "/v2/models/ident")).json().versions, ["5"]);
  assert.equal(existsSync(first[0]!), false, "the replaced load's directory is gone");
  // A plain reload goes back to the repository's own folder.
  await ctx.client.call("RepositoryModelLoad", { model_name: "ident" });
  assert.deepEqual((await http(ctx.srv.httpUrl, "/v2/models/ident")).json().versions, ["1"]);
  assert.equal(overrideDirs("ident").length, 0);
  await ctx.client.call("RepositoryModelUnload", { model_name: "ident", parameters: { unload_dependents: { bool_param: false } } });
  await ctx.client.call("RepositoryModelLoad", { model_name: "ident" });
});

test("override errors name the parameter: files without config, bad paths, bad base64, unknown parameters", async () => {
  const load = (params: Record<string, unknown>) => postJson(ctx.srv.httpUrl, "/v2/repository/models/uploaded2/load", { parameters: params });
  const noConfig = await load({ "file:1/model.bin": b64("x") });
  assert.equal(noConfig.status, 400);
  assert.match(noConfig.json().error, /file overrides \('file:1\/model.bin'\) need the 'config' load parameter/);
  for (const path of ["../escape.bin", "/abs.bin", "1//x", "1/./x"]) {
    const r = await load({ config: config("uploaded2"), [`file:${path}`]: b64("x") });
    assert.equal(r.status, 400, path);
    assert.match(r.json().error, /must be relative to the model directory/, path);
  }
  const notBase64 = await load({ config: config("uploaded2"), "file:1/m.bin": "***" });
  assert.equal(notBase64.status, 400);
  assert.match(notBase64.json().error, /load parameter 'file:1\/m.bin' must be a base64 string/);
  const unknown = await load({ config: config("uploaded2"), confg: "{}" });
  assert.equal(unknown.status, 400);
  assert.match(unknown.json().error, /unknown load parameter 'confg'/);
  // A config error in an override leaves no temporary directory behind.
  const badConfig = await load({ config: JSON.stringify({ name: "uploaded2", backend: "identity" }), "file:1/m.bin": b64("x") });
  assert.equal(badConfig.status, 400);
  assert.equal(overrideDirs("uploaded2").length, 0);
  const unload = await postJson(ctx.srv.httpUrl, "/v2/repository/models/ident/unload", { parameters: { unload_dependents: "yes" } });
  assert.equal(unload.status, 400);
  assert.match(unload.json().error, /'unload_dependents' must be a boolean/);
  await assert.rejects(
    ctx.client.call("RepositoryModelLoad", { model_name: "uploaded2", parameters: { config: { string_param: config("uploaded2") }, "file:1/m.bin": { bool_param: true } } }),
    (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /must be a bytes_param/.test(e.details),
  );
});

test("the index lists every model with state and reason, failed loads included; ready filters them out", async () => {
  const index = (await postJson(ctx.srv.httpUrl, "/v2/repository/index", {})).json();
  const broken = index.find((m: any) => m.name === "broken");
  assert.equal(broken.state, "UNAVAILABLE");
  assert.match(broken.reason, /backend/);
  assert.deepEqual(index.find((m: any) => m.name === "ident"), { name: "ident", version: "1", state: "READY", reason: "" });
  const ready = (await ctx.client.call("RepositoryIndex", { ready: true })).models;
  assert.equal(ready.some((m: any) => m.name === "broken"), false);
  assert.ok(ready.some((m: any) => m.name === "ident" && m.version === "1" && m.state === "READY"));
  const all = (await ctx.client.call("RepositoryIndex", { ready: false })).models;
  assert.equal(all.find((m: any) => m.name === "broken").state, "UNAVAILABLE");
});
