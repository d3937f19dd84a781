// Model control modes: none (all loaded, API load/unload refused), explicit (only loadModels at start,
// API allowed) and poll (the repository is rescanned: a new model folder loads, a changed config reloads,
// a removed folder unloads).
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startServer } from "../src/server.ts";
import { http, identityConfig, postJson, tempRepository } from "./helpers.ts";

const models = () => ({ a: identityConfig("a", "TYPE_INT32"), b: identityConfig("b", "TYPE_FP32") });
const ready = async (base: string): Promise<string[]> =>
  ((await postJson(base, "/v2/repository/index", { ready: true })).json() as { name: string }[]).map((m) => m.name);

test("none: every model loads; API load and unload answer 503 with Triton's message", async () => {
  const repo = tempRepository(models());
  const srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, metrics: false, modelControlMode: "none" });
  try {
    assert.deepEqual(await ready(srv.httpUrl), ["a", "b"]);
    for (const action of ["load", "unload"]) {
      const r = await postJson(srv.httpUrl, `/v2/repository/models/a/${action}`, {});
      assert.equal(r.status, 503, r.body.toString());
      assert.match(r.json().error, /^explicit model load \/ unload is not allowed if polling is enabled/);
    }
    assert.deepEqual(await ready(srv.httpUrl), ["a", "b"]);
  } finally {
    await srv.close();
    repo.remove();
  }
});

test("explicit: only the named models load at start; the API loads and unloads the others", async () => {
  const repo = tempRepository(models());
  const srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, metrics: false, modelControlMode: "explicit", loadModels: ["b"] });
  try {
    assert.deepEqual(await ready(srv.httpUrl), ["b"]);
    assert.equal((await postJson(srv.httpUrl, "/v2/repository/models/a/load", {})).status, 200);
    assert.equal((await postJson(srv.httpUrl, "/v2/repository/models/b/unload", {})).status, 200);
    assert.deepEqual(await ready(srv.httpUrl), ["a"]);
  } finally {
    await srv.close();
    repo.remove();
  }
});

test("options are checked before anything starts", async () => {
  await assert.rejects(startServer({ httpPort: 0, grpcPort: 0, modelControlMode: "poll", loadModels: ["x"] }), /need model control mode 'explicit'/);
  await assert.rejects(startServer({ httpPort: 0, grpcPort: 0, modelControlMode: "poll", repositoryPollSecs: 0 }), /poll interval must be a number of seconds > 0/);
  await assert.rejects(startServer({ httpPort: 0, grpcPort: 0, modelControlMode: "sometimes" as never }), /model control mode must be one of none, explicit, poll/);
});

test("poll: a new model folder loads, a changed config reloads, a removed folder unloads; the API is refused", async () => {
  const repo = tempRepository({ a: identityConfig("a", "TYPE_INT32") });
  const srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, metrics: false, modelControlMode: "poll", repositoryPollSecs: 0.05 });
  const until = async (what: string, check: () => Promise<boolean>) => {
    for (let i = 0; i < 400; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.fail(`poll did not ${what} within 10 s`);
  };
  try {
    assert.deepEqual(await ready(srv.httpUrl), ["a"]);
    assert.equal((await postJson(srv.httpUrl, "/v2/repository/models/a/unload", {})).status, 503);

    // New folder: picked up by the timer.
    mkdirSync(join(repo.dir, "fresh", "1"), { recursive: true });
    writeFileSync(join(repo.dir, "fresh", "config.pbtxt"), identityConfig("fresh", "TYPE_FP32"));
    await until("load the new model", async () => (await ready(srv.httpUrl)).includes("fresh"));

    // Changed config: instance count 1 -> 3 (same file size class, new text).
    writeFileSync(join(repo.dir, "a", "config.pbtxt"), identityConfig("a", "TYPE_INT32").replace("count: 1", "count: 3"));
    await until("reload the changed model", async () => srv.server.modelInstances("a").length === 3);
    const infer = await postJson(srv.httpUrl, "/v2/models/a/infer", { inputs: [{ name: "INPUT0", datatype: "INT32", shape: [2], data: [4, 5] }] });
    assert.deepEqual(infer.json().outputs[0].data, [4, 5]);

    // A broken config keeps the old version serving and says why in the index.
    writeFileSync(join(repo.dir, "a", "config.pbtxt"), "name: \"a\" backend: \"nope\"");
    await srv.server.modelControl!.poll();
    const index = (await postJson(srv.httpUrl, "/v2/repository/index", {})).json() as { name: string; reason: string }[];
    assert.ok((await ready(srv.httpUrl)).includes("a"));
    assert.equal(srv.server.modelInstances("a").length, 3);
    assert.ok(index.some((m) => m.name === "a"));

    // Removed folder: unloaded.
    rmSync(join(repo.dir, "fresh"), { recursive: true });
    await until("unload the removed model", async () => !(await ready(srv.httpUrl)).includes("fresh"));
    assert.equal((await http(srv.httpUrl, "/v2/models/fresh/ready")).status, 400);
  } finally {
    await srv.close();
    repo.remove();
  }
});
