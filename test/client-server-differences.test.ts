// Servers differ; the client copes. Against the reference server started with `extensions: []` (it then
// answers like KServe/MLServer: no Triton endpoints, JSON-only HTTP, typed gRPC contents) every extension
// call fails as "unimplemented" naming the endpoint, and inference still works. Health answers in the
// shapes other servers use (empty body, JSON, 400 or 503) read as booleans, not errors.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type RunningServer } from "@iaas/server-native";
import { InferenceError, Tensor, createClient, type InferenceClient, type Protocol } from "@iaas/client";

function makeRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), "iaas-client-diff-"));
  for (const [name, type] of [["ident_int32", "TYPE_INT32"], ["ident_int64", "TYPE_INT64"], ["ident_bytes", "TYPE_STRING"], ["ident_bool", "TYPE_BOOL"], ["ident_fp64", "TYPE_FP64"]]) {
    mkdirSync(join(dir, name!, "1"), { recursive: true });
    writeFileSync(
      join(dir, name!, "config.pbtxt"),
      `name: "${name}"\nbackend: "identity"\nmax_batch_size: 0\ninput [ { name: "INPUT0", data_type: ${type}, dims: [ -1 ] } ]\noutput [ { name: "OUTPUT0", data_type: ${type}, dims: [ -1 ] } ]\ninstance_group [ { kind: KIND_CPU } ]\n`,
    );
  }
  return dir;
}

const unimplemented = (p: Promise<unknown>, endpoint: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof InferenceError, String(e));
    assert.equal(e.code, "unimplemented", e.message);
    assert.match(e.message, /is not supported by this server \(/);
    assert.match(e.message, endpoint);
    return true;
  });

let repo: string;
let plain: RunningServer;
let full: RunningServer;
before(async () => {
  repo = makeRepository();
  plain = await startServer({ modelRepository: repo, httpPort: 0, grpcPort: 0, extensions: [] });
  full = await startServer({ modelRepository: repo, httpPort: 0, grpcPort: 0 });
});
after(async () => {
  await Promise.all([plain.close(), full.close()]);
  rmSync(repo, { recursive: true, force: true });
});

const urlOf = (s: RunningServer, p: Protocol) => (p === "http" ? s.httpUrl : `grpc://${s.grpcUrl}`);

for (const protocol of ["http", "grpc"] as Protocol[]) {
  describe(`a server without Triton's extensions, over ${protocol}`, () => {
    let client: InferenceClient;
    before(() => {
      // JSON tensors: a server without binary_tensor_data refuses binary bodies.
      client = createClient({ url: urlOf(plain, protocol), retry: false, binaryInputs: false });
    });
    after(() => client.close());

    test("metadata advertises none; extension calls are 'unimplemented' naming the endpoint", async () => {
      assert.deepEqual((await client.serverMetadata()).extensions, []);
      const ep = (http: RegExp, rpc: string) => (protocol === "http" ? http : new RegExp(`GRPCInferenceService/${rpc}`));
      await unimplemented(client.modelConfig("ident_int32"), ep(/GET \/v2\/models\/ident_int32\/config: HTTP 404/, "ModelConfig"));
      await unimplemented(client.modelStatistics(), ep(/GET \/v2\/models\/stats: HTTP 404/, "ModelStatistics"));
      await unimplemented(client.modelStatistics("ident_int32"), ep(/\/v2\/models\/ident_int32\/stats/, "ModelStatistics"));
      await unimplemented(client.repositoryIndex(), ep(/POST \/v2\/repository\/index/, "RepositoryIndex"));
      await unimplemented(client.loadModel("ident_int32"), ep(/\/v2\/repository\/models\/ident_int32\/load/, "RepositoryModelLoad"));
      await unimplemented(client.unloadModel("ident_int32"), ep(/\/v2\/repository\/models\/ident_int32\/unload/, "RepositoryModelUnload"));
      await unimplemented(client.traceSettings(), ep(/GET \/v2\/trace\/setting/, "TraceSetting"));
      await unimplemented(client.updateTraceSettings({ trace_rate: 1 }, { model: "ident_int32" }), ep(/POST \/v2\/models\/ident_int32\/trace\/setting/, "TraceSetting"));
      await unimplemented(client.logSettings(), ep(/GET \/v2\/logging/, "LogSettings"));
      await unimplemented(client.updateLogSettings({ log_info: false }), ep(/POST \/v2\/logging/, "LogSettings"));
    });

    test("inference still works; outputs arrive as JSON (HTTP) or typed contents (gRPC)", async () => {
      const cases: Tensor[] = [
        new Tensor("INPUT0", "INT32", [3], Int32Array.of(1, -2, 2147483647)),
        new Tensor("INPUT0", "INT64", [2], BigInt64Array.of(-(2n ** 62n), 2n ** 53n + 1n)),
        // JSON carries BYTES as UTF-8 strings; typed gRPC contents carry any bytes.
        new Tensor("INPUT0", "BYTES", [2], protocol === "http" ? ["héllo", "wörld"] : ["héllo", new Uint8Array([0, 255, 10])]),
        new Tensor("INPUT0", "BOOL", [3], Uint8Array.of(1, 0, 1)),
        new Tensor("INPUT0", "FP64", [2], Float64Array.of(Math.PI, -0.5)),
      ];
      for (const t of cases) {
        const model = `ident_${t.datatype.toLowerCase()}`;
        const out = (await client.infer(model, [t])).output("OUTPUT0");
        assert.equal(out.datatype, t.datatype, model);
        assert.deepEqual(out.shape, t.shape, model);
        if (t.datatype === "BYTES")
          assert.deepEqual(
            out.toRaw(),
            t.toRaw(),
            `${model}: ${JSON.stringify(out.data)}`,
          );
        else assert.deepEqual(Array.from(out.data as ArrayLike<unknown>), Array.from(t.data as ArrayLike<unknown>), model);
      }
    });
  });
}

test("on a full server a per-model 404 stays 'not_found' (the model is unknown, the endpoint exists)", async () => {
  for (const protocol of ["http", "grpc"] as Protocol[]) {
    const client = createClient({ url: urlOf(full, protocol), retry: false });
    try {
      await assert.rejects(client.modelConfig("nope"), (e: InferenceError) => e.code === "not_found" && /nope/.test(e.message));
      await assert.rejects(client.modelStatistics("nope"), (e: InferenceError) => e.code === "not_found");
      await assert.rejects(client.unloadModel("nope"), (e: InferenceError) => e.code === "not_found");
    } finally {
      await client.close();
    }
  }
});

describe("health answers in other servers' shapes", () => {
  // A peer answering health the way each server does (Triton: empty body, 200/400; KServe python:
  // JSON, 200/503), switchable between ready and not ready.
  let peer: Server;
  let url: string;
  let style: "triton" | "kserve" = "triton";
  let ready = true;
  before(async () => {
    peer = createServer((req, res) => {
      const path = req.url ?? "";
      const field = path.endsWith("/live") ? "live" : "ready";
      if (!/^\/v2\/(health\/(live|ready)|models\/[^/]+\/ready)$/.test(path)) {
        res.writeHead(404, { "content-type": "application/json" }).end('{"detail":"Not Found"}');
        return;
      }
      if (style === "triton") res.writeHead(ready ? 200 : 400, { "content-length": "0" }).end();
      else res.writeHead(ready ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ [field]: ready }));
    });
    await new Promise<void>((resolve) => peer.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => peer.close(() => resolve())));

  for (const s of ["triton", "kserve"] as const) {
    test(`${s} style: ready and not ready read as booleans`, async () => {
      style = s;
      const client = createClient({ url, retry: false });
      try {
        ready = true;
        assert.deepEqual([await client.isServerLive(), await client.isServerReady(), await client.isModelReady("m")], [true, true, true]);
        ready = false;
        assert.deepEqual([await client.isServerLive(), await client.isServerReady(), await client.isModelReady("m")], [false, false, false]);
      } finally {
        await client.close();
      }
    });
  }

  test("the reference server's own not-ready answer ({ready:false}, 400) over both protocols", async () => {
    const broken = mkdtempSync(join(tmpdir(), "iaas-client-broken-"));
    mkdirSync(join(broken, "bad", "1"), { recursive: true });
    writeFileSync(join(broken, "bad", "config.pbtxt"), 'name: "bad"\nbackend: "nope"\n');
    const srv = await startServer({ modelRepository: broken, httpPort: 0, grpcPort: 0, strictModelLoad: false });
    try {
      for (const protocol of ["http", "grpc"] as Protocol[]) {
        const client = createClient({ url: urlOf(srv, protocol), retry: false });
        try {
          assert.equal(await client.isServerLive(), true);
          assert.equal(await client.isServerReady(), false, protocol);
          assert.equal(await client.isModelReady("bad"), false, protocol);
        } finally {
          await client.close();
        }
      }
    } finally {
      await srv.close();
      rmSync(broken, { recursive: true, force: true });
    }
  });
});
