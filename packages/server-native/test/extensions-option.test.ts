// startServer({ extensions }): only the listed Triton extensions are advertised and served; the others
// answer like a KServe/MLServer server that lacks them (HTTP 404 with FastAPI's body, gRPC UNIMPLEMENTED),
// and without binary_tensor_data the server speaks JSON tensors over HTTP and typed contents over gRPC.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { SUPPORTED_EXTENSIONS } from "../src/core/inference-server.ts";
import { startServer, type RunningServer } from "../src/server.ts";
import { binaryBody, grpcClient, http, identityConfig, postJson, tempRepository, type GrpcTestClient } from "./helpers.ts";

const repo = tempRepository({
  ident: identityConfig("ident", "TYPE_INT32"),
  ident_fp16: identityConfig("ident_fp16", "TYPE_FP16"),
  ident_bytes: identityConfig("ident_bytes", "TYPE_STRING"),
});
let srv: RunningServer;
let client: GrpcTestClient;
before(async () => {
  srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, extensions: ["statistics"] });
  client = grpcClient(srv.grpcUrl);
});
after(async () => {
  client.close();
  await srv.close();
  repo.remove();
});

test("metadata lists only the enabled extensions", async () => {
  assert.deepEqual((await http(srv.httpUrl, "/v2")).json().extensions, ["statistics"]);
  assert.deepEqual((await client.call("ServerMetadata", {})).extensions, ["statistics"]);
});

test("HTTP: endpoints of disabled extensions answer 404 {detail: Not Found}; enabled ones work", async () => {
  const missing: [string, string, unknown?][] = [
    ["POST", "/v2/repository/index", {}],
    ["POST", "/v2/repository/models/ident/load", {}],
    ["POST", "/v2/repository/models/ident/unload", {}],
    ["GET", "/v2/models/ident/config"],
    ["GET", "/v2/models/ident/versions/1/config"],
    ["GET", "/v2/trace/setting"],
    ["POST", "/v2/models/ident/trace/setting", {}],
    ["GET", "/v2/logging"],
  ];
  for (const [method, path, body] of missing) {
    const r = body === undefined ? await http(srv.httpUrl, path, { method }) : await postJson(srv.httpUrl, path, body);
    assert.equal(r.status, 404, `${method} ${path}`);
    assert.deepEqual(r.json(), { detail: "Not Found" }, `${method} ${path}`);
  }
  assert.equal((await http(srv.httpUrl, "/v2/models/ident/stats")).status, 200);
  assert.equal((await http(srv.httpUrl, "/v2/models/ident")).status, 200);
  assert.equal((await http(srv.httpUrl, "/v2/models/ident/ready")).status, 200);
});

test("gRPC: RPCs of disabled extensions answer UNIMPLEMENTED", async () => {
  for (const [rpc, req] of [
    ["RepositoryIndex", {}],
    ["RepositoryModelLoad", { model_name: "ident" }],
    ["RepositoryModelUnload", { model_name: "ident" }],
    ["ModelConfig", { name: "ident" }],
    ["TraceSetting", {}],
    ["LogSettings", {}],
  ] as const) {
    await assert.rejects(client.call(rpc, req), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.UNIMPLEMENTED, rpc);
      assert.match(e.details, new RegExp(`${rpc} is not supported: the \\w+ extension is disabled`));
      return true;
    });
  }
  assert.equal((await client.call("ModelStatistics", { name: "ident" })).model_stats.length, 1);
});

test("without binary_tensor_data: binary bodies are refused and outputs are JSON whatever is asked", async () => {
  const { body, headerLength } = binaryBody({ inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1], parameters: { binary_data_size: 4 } }] }, [
    new Uint8Array(Int32Array.of(3).buffer),
  ]);
  const bin = await http(srv.httpUrl, "/v2/models/ident/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
  assert.equal(bin.status, 400);
  assert.match(bin.json().error, /does not accept binary tensor data/);
  const r = await postJson(srv.httpUrl, "/v2/models/ident/infer", {
    inputs: [{ name: "INPUT0", datatype: "INT32", shape: [2], data: [4, 5] }],
    outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }],
    parameters: { binary_data_output: true },
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "application/json");
  assert.deepEqual(r.json().outputs[0].data, [4, 5]);
});

test("without binary_tensor_data: gRPC answers with typed contents (KServe style), FP16 still raw", async () => {
  const res = await client.call("ModelInfer", {
    model_name: "ident",
    inputs: [{ name: "INPUT0", datatype: "INT32", shape: [3] }],
    raw_input_contents: [Buffer.from(Int32Array.of(1, -2, 3).buffer)],
  });
  assert.deepEqual(res.raw_output_contents, []);
  assert.deepEqual(res.outputs[0].contents.int_contents, [1, -2, 3]);
  const bytes = await client.call("ModelInfer", {
    model_name: "ident_bytes",
    inputs: [{ name: "INPUT0", datatype: "BYTES", shape: [2], contents: { bytes_contents: [Buffer.from("a"), Buffer.from([0, 255])] } }],
  });
  assert.deepEqual(bytes.outputs[0].contents.bytes_contents.map((b: Buffer) => [...b]), [[97], [0, 255]]);
  const half = await client.call("ModelInfer", {
    model_name: "ident_fp16",
    inputs: [{ name: "INPUT0", datatype: "FP16", shape: [1] }],
    raw_input_contents: [Buffer.from([0, 60])],
  });
  assert.deepEqual([...half.raw_output_contents[0]], [0, 60], "FP16 has no typed field: raw as before");
});

test("classification disabled: 501 / UNIMPLEMENTED; an unknown extension name fails start", async () => {
  const r = await postJson(srv.httpUrl, "/v2/models/ident/infer", {
    inputs: [{ name: "INPUT0", datatype: "INT32", shape: [2], data: [4, 5] }],
    outputs: [{ name: "OUTPUT0", parameters: { classification: 1 } }],
  });
  assert.equal(r.status, 501);
  assert.match(r.json().error, /classification extension is not enabled/);
  await assert.rejects(startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, extensions: ["statistics", "telepathy"] }), (e: Error) => {
    assert.match(e.message, /unknown protocol extension "telepathy"; this server implements: binary_tensor_data, /);
    return true;
  });
  assert.ok(SUPPORTED_EXTENSIONS.includes("logging") && SUPPORTED_EXTENSIONS.includes("trace") && SUPPORTED_EXTENSIONS.includes("classification"));
});
