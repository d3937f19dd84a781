// @iaas/client sequences against the real reference server (simple_sequence, a running sum per
// sequence): InferOptions.sequenceId/Start/End and client.sequence() over HTTP, gRPC and a gRPC stream,
// with number, bigint (past 2^63) and string ids; Triton's START error; an idle sequence losing its slot.
// Lives in the cross-package test/ folder: @iaas/server-native depends on @iaas/client.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_MODEL_REPOSITORY, startServer, type RunningServer } from "@iaas/server-native";
import { InferenceError, Tensor, createClient, type InferResult, type InferenceClient, type SequenceId } from "@iaas/client";
import { expectCode } from "./client-fixtures.ts";

const value = (v: number): Tensor[] => [new Tensor("INPUT", "INT32", [1, 1], Int32Array.of(v))];
const sum = (r: InferResult): number => (r.output("OUTPUT").data as Int32Array)[0]!;

// The shipped repository plus `idle_sequence`: simple_sequence with one slot and a 200 ms idle limit.
function makeRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), "iaas-client-sequences-"));
  const shipped = readFileSync(join(DEFAULT_MODEL_REPOSITORY, "simple_sequence", "config.pbtxt"), "utf8");
  for (const [name, text] of [
    ["simple_sequence", shipped],
    [
      "idle_sequence",
      shipped
        .replace(`name: "simple_sequence"`, `name: "idle_sequence"`)
        .replace("max_batch_size: 8", "max_batch_size: 1")
        .replace("max_sequence_idle_microseconds: 5000000", "max_sequence_idle_microseconds: 200000"),
    ],
  ]) {
    mkdirSync(join(dir, name!, "1"), { recursive: true });
    writeFileSync(join(dir, name!, "config.pbtxt"), text!);
  }
  return dir;
}

describe("client sequences", () => {
  let server: RunningServer;
  let repo: string;
  const clients: Record<"http" | "grpc", InferenceClient> = {} as never;

  before(async () => {
    repo = makeRepository();
    server = await startServer({ modelRepository: repo, host: "127.0.0.1", httpPort: 0, grpcPort: 0 });
    clients.http = createClient({ url: server.httpUrl });
    clients.grpc = createClient({ url: server.grpcUrl, protocol: "grpc" });
  });
  after(async () => {
    await clients.http.close();
    await clients.grpc.close();
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });

  for (const protocol of ["http", "grpc"] as const) {
    test(`${protocol}: two interleaved sequences (InferOptions) accumulate independently`, async () => {
      const client = clients[protocol];
      const ids: [SequenceId, SequenceId] = protocol === "http" ? [(1n << 63n) + 7n, "alpha"] : [(1n << 64n) - 3n, 31];
      const values = [11, 7, 5, 3, 2, 0, 1];
      const a: number[] = [];
      const b: number[] = [];
      for (const [i, v] of values.entries()) {
        const flags = { sequenceStart: i === 0, sequenceEnd: i === values.length - 1 };
        a.push(sum(await client.infer("simple_sequence", value(v), { sequenceId: ids[0], ...flags })));
        b.push(sum(await client.infer("simple_sequence", value(100 - v), { sequenceId: ids[1], ...flags })));
      }
      assert.deepEqual(a, [11, 18, 23, 26, 28, 28, 29]);
      assert.deepEqual(b, [89, 182, 277, 374, 472, 572, 671]);
    });

    test(`${protocol}: client.sequence() sets START first and END last; calls go out in order`, async () => {
      const client = clients[protocol];
      const s1 = client.sequence("simple_sequence");
      const s2 = client.sequence("simple_sequence", { id: `${protocol}-s2` });
      assert.ok(typeof s1.id === "number" && s1.id > 0);
      // Fired without awaiting: the sequence still sends them one at a time, in call order.
      const first = [1, 2, 3, 4].map((v) => s1.infer(value(v)));
      const second = [10, 20].map((v) => s2.infer(value(v)));
      assert.deepEqual((await Promise.all(first)).map(sum), [1, 3, 6, 10]);
      assert.deepEqual((await Promise.all(second)).map(sum), [10, 30]);
      assert.equal(sum(await s1.end(value(5))), 15);
      assert.equal(s1.ended, true);
      await expectCode(s1.infer(value(1)), "failed_precondition", /has ended/);
      assert.equal(sum(await s2.end(value(-30))), 0);
      // The server forgot the ended sequence: continuing it needs a new START.
      await expectCode(client.infer("simple_sequence", value(1), { sequenceId: s1.id }), "invalid_argument", /must specify the START flag/);
    });

    test(`${protocol}: an unknown sequence without START fails with Triton's message`, async () => {
      await expectCode(
        clients[protocol].infer("simple_sequence", value(1), { sequenceId: 987654321 }),
        "invalid_argument",
        /inference request for sequence 987654321 to model 'simple_sequence' must specify the START flag on the first request of the sequence/,
      );
      await expectCode(clients[protocol].infer("simple_sequence", value(1)), "invalid_argument", /must specify a non-zero or non-empty correlation ID/);
    });
  }

  test("sequences on one gRPC stream, with sequence() and with send()", async () => {
    const stream = clients.grpc.stream();
    const s1 = clients.grpc.sequence("simple_sequence", { id: 4242n, stream });
    const s2 = clients.grpc.sequence("simple_sequence", { id: "on-stream", stream });
    const sums = await Promise.all([
      (async () => [sum(await s1.infer(value(2))), sum(await s1.infer(value(3))), sum(await s1.end(value(4)))])(),
      (async () => [sum(await s2.infer(value(-1))), sum(await s2.infer(value(-1))), sum(await s2.end(value(-1)))])(),
    ]);
    assert.deepEqual(sums, [
      [2, 5, 9],
      [-1, -2, -3],
    ]);
    // Plain send() with the sequence options, answers read from the iteration.
    stream.send("simple_sequence", value(50), { id: "p1", sequenceId: 77, sequenceStart: true });
    stream.send("simple_sequence", value(1), { id: "p2", sequenceId: 77 });
    stream.send("simple_sequence", value(1), { id: "p3", sequenceId: 78 });
    stream.send("simple_sequence", value(9), { id: "p4", sequenceId: 77, sequenceEnd: true });
    stream.end();
    const items: [string, number | string][] = [];
    for await (const item of stream) items.push([item.requestId, item.type === "result" ? sum(item.result) : item.error.message]);
    assert.deepEqual(items.slice(0, 2), [["p1", 50], ["p2", 51]]);
    assert.equal(items[2]![0], "p3");
    assert.match(String(items[2]![1]), /sequence 78 to model 'simple_sequence' must specify the START flag/);
    assert.deepEqual(items[3], ["p4", 60]);
  });

  test("an idle sequence loses its slot to a waiting one and must START again", async () => {
    const client = clients.grpc;
    const a = client.sequence("idle_sequence", { id: 1 });
    assert.equal(sum(await a.infer(value(5))), 5);
    // The only slot is A's; B waits until A has been idle for 200 ms.
    const t0 = Date.now();
    const b = client.sequence("idle_sequence", { id: 2 });
    assert.equal(sum(await b.infer(value(7))), 7);
    assert.ok(Date.now() - t0 >= 100, "B had to wait for A's slot");
    await expectCode(a.infer(value(1)), "invalid_argument", /sequence 1 to model 'idle_sequence' must specify the START flag/);
    assert.equal(sum(await b.end(value(1))), 8);
  });

  test("sequence options are checked before sending", async () => {
    const client = clients.http;
    for (const bad of [0, -1, 1.5, 2 ** 53, "", 1n << 64n, true])
      await expectCode(client.infer("simple_sequence", value(1), { sequenceId: bad as never, sequenceStart: true }), "invalid_argument", /sequenceId must be/);
    await expectCode(client.infer("simple_sequence", value(1), { sequenceStart: true }), "invalid_argument", /need a sequenceId/);
    await expectCode(client.infer("simple_sequence", value(1), { sequenceId: 5, sequenceEnd: "yes" as never }), "invalid_argument", /sequenceEnd must be a boolean/);
    await expectCode(client.infer("simple_sequence", value(1), { parameters: { sequence_id: 5 } }), "invalid_argument", /reserved/);
    assert.throws(() => client.sequence("simple_sequence", { id: 0 }), (e: InferenceError) => e.code === "invalid_argument");
  });
});
