// `iaas bench --input-data FILE` (KServe v2 JSON requests, Arrow IPC rows) with --validate, over HTTP, over a
// gRPC stream (--streaming) and through system shared memory (--shared-memory system): spawned against an
// in-process reference server with the shared-memory extension on.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeVector, tableToIPC, Table, Float32, FixedSizeList, Field, makeData } from "apache-arrow";
import { startServer, DEFAULT_MODEL_REPOSITORY } from "@iaas/server-native";
import { iaas, tempDir } from "./support/cli-process.ts";

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server;
let dir: string;
before(async () => {
  server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, modelRepository: DEFAULT_MODEL_REPOSITORY, sharedMemory: "system" });
  dir = tempDir("iaas-data-");
});
after(() => server.close());

const SHORT = ["--warmup-ms", "0", "--measurement-interval", "250", "--max-trials", "3", "-c", "2"];

function requestsJson(wrongAt?: number): string {
  const requests = [0, 1, 2].map((k) => {
    const data = [1, 2, 3, 4].map((v) => v + 10 * k);
    const expected = data.map((v, i) => (k === wrongAt && i === 2 ? v + 100 : v));
    return {
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [4], data }],
      outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [4], data: expected }],
    };
  });
  return JSON.stringify({ requests });
}

function level(file: string) {
  return JSON.parse(readFileSync(file, "utf8")).levels[0];
}

for (const variant of [
  { name: "HTTP", args: (s: Server) => ["-u", s.httpUrl] },
  { name: "gRPC stream", args: (s: Server) => ["-u", s.grpcUrl, "-i", "grpc", "--streaming"] },
  { name: "HTTP shared memory", args: (s: Server) => ["-u", s.httpUrl, "--shared-memory", "system"] },
  { name: "gRPC shared memory", args: (s: Server) => ["-u", s.grpcUrl, "-i", "grpc", "--shared-memory", "system"] },
]) {
  test(`JSON requests with expected outputs, --validate, ${variant.name}: matches pass, a mismatch is an error naming the element`, async () => {
    const good = join(dir, `good-${variant.name.replaceAll(" ", "_")}.json`);
    const bad = join(dir, `bad-${variant.name.replaceAll(" ", "_")}.json`);
    writeFileSync(good, requestsJson());
    writeFileSync(bad, requestsJson(1));
    const out1 = join(dir, `g-${variant.name.replaceAll(" ", "_")}.out.json`);
    const r1 = await iaas(["bench", ...variant.args(server), "-m", "identity_fp32", "--input-data", good, "--validate", "--json", out1, ...SHORT]);
    assert.equal(r1.code, 0, r1.stderr);
    const l1 = level(out1);
    assert.ok(l1.requests > 0);
    assert.equal(l1.errorCount, 0, JSON.stringify(l1.errorMessages));

    const out2 = join(dir, `b-${variant.name.replaceAll(" ", "_")}.out.json`);
    const r2 = await iaas(["bench", ...variant.args(server), "-m", "identity_fp32", "--input-data", bad, "--validate", "--json", out2, ...SHORT]);
    assert.equal(r2.code, 0, r2.stderr);
    const l2 = level(out2);
    // One request in three differs: it fails validation every time it is sent, the others pass.
    assert.ok(l2.errors.validation > 0);
    const share = l2.errors.validation / (l2.errors.validation + l2.requests);
    assert.ok(share > 0.2 && share < 0.45, `validation failure share ${share}`);
    assert.equal(l2.errorMessages.validation, 'request 1: output "OUTPUT0": element 2 is 13, expected 113');
    assert.match(r2.stdout, /validation x\d+: request 1: output "OUTPUT0": element 2 is 13, expected 113/);
  });
}

test("Arrow IPC rows as requests, output columns as expected values", async () => {
  // dense_mlp-free check on identity_fp32: one FixedSizeList<Float32, 4> column per tensor, 3 rows.
  const rows = 3;
  const values = Float32Array.from({ length: rows * 4 }, (_, i) => i + 0.5);
  const list = (name: string, data: Float32Array) => {
    const child = makeData({ type: new Float32(), length: data.length, data });
    const type = new FixedSizeList(4, new Field("item", new Float32(), false));
    return [name, makeVector(makeData({ type, length: rows, nullCount: 0, child }))] as const;
  };
  const expected = values.slice();
  const table = new Table(Object.fromEntries([list("INPUT0", values), list("OUTPUT0", expected)]));
  const file = join(dir, "rows.arrow");
  writeFileSync(file, tableToIPC(table, "file"));
  const out = join(dir, "arrow.out.json");
  const r = await iaas(["bench", "-u", server.httpUrl, "-m", "identity_fp32", "--input-data", file, "--validate", "--json", out, ...SHORT]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(readFileSync(out, "utf8"));
  assert.deepEqual(result.model.inputs, [{ name: "INPUT0", datatype: "FP32", shape: [4] }], "a row of 4 floats for a non-batching model");
  assert.equal(result.levels[0].errorCount, 0);
  assert.ok(result.levels[0].requests > 0);

  // A wrong expected value in row 2 is caught.
  expected[2 * 4 + 1] = -1;
  writeFileSync(file, tableToIPC(new Table(Object.fromEntries([list("INPUT0", values), list("OUTPUT0", expected)])), "file"));
  const r2 = await iaas(["bench", "-u", server.httpUrl, "-m", "identity_fp32", "--input-data", file, "--validate", "--json", out, ...SHORT]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(level(out).errorMessages.validation, 'request 2: output "OUTPUT0": element 1 is 9.5, expected -1');
});

test("data file errors: missing input column, --validate without expected outputs, --streaming over HTTP", async () => {
  const table = new Table({ OTHER: makeVector(Float32Array.of(1, 2)) });
  const file = join(dir, "wrong.arrow");
  writeFileSync(file, tableToIPC(table, "file"));
  const r1 = await iaas(["bench", "-u", server.httpUrl, "-m", "identity_fp32", "--input-data", file, ...SHORT]);
  assert.equal(r1.code, 1);
  assert.match(r1.stderr, /no column for input\(s\) "INPUT0" of model "identity_fp32" \(columns: OTHER\)/);
  const noExpected = join(dir, "plain.json");
  writeFileSync(noExpected, JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "FP32", shape: [2], data: [1, 2] }] }));
  const r2 = await iaas(["bench", "-u", server.httpUrl, "-m", "identity_fp32", "--input-data", noExpected, "--validate", ...SHORT]);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /has no expected outputs to validate against/);
  const r3 = await iaas(["bench", "-u", server.httpUrl, "--streaming", ...SHORT]);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /--streaming needs gRPC/);
});
