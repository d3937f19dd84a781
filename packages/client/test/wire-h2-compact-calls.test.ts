// What a gRPC infer call in flight keeps on the client's own HTTP/2 connection (iaas-h2) is one compact
// record (flags packed into one field, a failure context shared by plain calls, the promise's resolve as
// its only settler: failures resolve it with a rejected promise). These tests hold many calls at a peer and
// check that each still settles with its own answer, id and error (model named right when contexts are
// shared), that no failure shows up as an unhandled rejection, and that a cancelled or timed-out call lets
// go of its record (its promise is collected while held calls' promises are not).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import * as grpc from "@grpc/grpc-js";
import { createClient, InferenceError, Tensor } from "../src/index.ts";
import { MessageReader } from "../src/transport/grpc/h2/message-reader.ts";
import { holdingGrpcPeer, type HoldingGrpcPeer } from "./support/holding-grpc-peer.ts";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/** Indexes n-1 .. 0: answers in the opposite order of arrival. */
const reversed = (n: number) => Array.from({ length: n }, (_, k) => n - 1 - k);

const fp32 = (v: number) => new Tensor("INPUT0", "FP32", [1], Float32Array.of(v));

async function collected(refs: WeakRef<object>[]): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  return refs.filter((r) => r.deref() === undefined).length;
}

/** n calls that stay held, and n that end early (even: aborted by `signal`, odd: a 30 ms deadline), only WeakRefs to the latter. */
function startCalls(client: ReturnType<typeof createClient>, n: number, signal: AbortSignal) {
  const kept: Promise<unknown>[] = [];
  const keptRefs: WeakRef<object>[] = [];
  const endedRefs: WeakRef<object>[] = [];
  const endings: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const p = client.infer("echo", [fp32(i)]);
    kept.push(p);
    keptRefs.push(new WeakRef(p));
  }
  for (let i = 0; i < n; i++) {
    // The rejection is observed through a derived promise; the call's own promise is only weakly held.
    const p = i % 2 === 0 ? client.infer("echo", [fp32(i)], { signal }) : client.infer("echo", [fp32(i)], { timeoutMs: 30 });
    endedRefs.push(new WeakRef(p));
    endings.push(p.then(() => "resolved", (e: unknown) => (e instanceof InferenceError ? e.code : String(e))));
  }
  return { kept, keptRefs, endedRefs, endings };
}

test("MessageReader: a prefix gathered byte by byte (kept where the body goes), the compressed flag, an empty message, a second message", () => {
  const feed = (r: MessageReader, bytes: number[]) => {
    for (const b of bytes) r.push(Buffer.of(b));
  };
  const body = [7, 8, 9, 10, 11, 12];
  const plain = new MessageReader(100);
  feed(plain, [0, 0, 0, 0, body.length]);
  assert.equal(plain.message(), undefined);
  assert.equal(plain.partial, true);
  feed(plain, body);
  assert.deepEqual([...plain.message()!], body);
  assert.equal(plain.compressed, false);
  assert.equal(plain.problem, undefined);
  const compressed = new MessageReader(100);
  feed(compressed, [1, 0, 0, 0, 2, 5, 6]);
  assert.deepEqual([...compressed.message()!], [5, 6]);
  assert.equal(compressed.compressed, true);
  const empty = new MessageReader(100);
  feed(empty, [0, 0, 0]);
  assert.equal(empty.message(), undefined);
  assert.equal(empty.partial, false);
  feed(empty, [0, 0]);
  assert.equal(empty.message()!.length, 0);
  feed(empty, [0, 0]);
  assert.equal(empty.problem, "Too many responses received");
  const tooBig = new MessageReader(3);
  feed(tooBig, [0, 0, 0, 0, 4]);
  assert.match(tooBig.problem!, /larger than max \(4 vs\. 3\)/);
});

describe("iaas-h2: compact calls in flight", () => {
  let peer: HoldingGrpcPeer;
  before(async () => {
    peer = await holdingGrpcPeer();
  });
  after(() => peer.close());

  test("2,000 calls held at once settle with their own answers and ids, answered in shuffled order", async () => {
    const client = createClient({ url: peer.url, protocol: "grpc", retry: false, grpc: { implementation: "iaas-h2" } });
    try {
      const n = 2000;
      const calls = Array.from({ length: n }, (_, i) => client.infer("echo", [fp32(i)], { id: `r${i}` }));
      await peer.waitFor(n);
      // A fixed permutation (not reversed, not in order): i * 7919 mod n visits every index once (7919 is prime to 2000).
      peer.release(Array.from({ length: n }, (_, i) => (i * 7919) % n));
      const results = await Promise.all(calls);
      for (let i = 0; i < n; i++) {
        assert.equal(results[i]!.id, `r${i}`);
        assert.equal(results[i]!.output("OUTPUT0").data[0], i);
      }
    } finally {
      await client.close();
    }
  });

  test("failures of calls that share a failure context name their own model; none is an unhandled rejection", async () => {
    const client = createClient({ url: peer.url, protocol: "grpc", retry: false, grpc: { implementation: "iaas-h2" } });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      // Runs of the same model (context shared) alternating with the other model (context replaced).
      const models = ["echo", "echo", "missing", "missing", "missing", "echo", "missing", "echo", "echo", "missing"];
      const calls = models.map((m, i) => client.infer(m, [fp32(i)]).then(
        (r) => ({ ok: true as const, value: r.output("OUTPUT0").data[0] }),
        (e: unknown) => ({ ok: false as const, error: e }),
      ));
      await peer.waitFor(models.length);
      peer.release(reversed(peer.held.length));
      const results = await Promise.all(calls);
      for (let i = 0; i < models.length; i++) {
        const r = results[i]!;
        if (models[i] === "echo") assert.deepEqual(r, { ok: true, value: i });
        else {
          assert.equal(r.ok, false);
          const e = (r as { error: unknown }).error;
          assert.ok(e instanceof InferenceError, `call ${i}: ${String(e)}`);
          assert.equal(e.code, "not_found");
          assert.equal(e.grpcCode, grpc.status.NOT_FOUND);
          assert.match(e.message, /no model missing/);
        }
      }
      // Unhandled rejections are reported after the microtask queue drains.
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await client.close();
    }
  });

  test("cancelled and timed-out calls let go of their records while held calls keep theirs", async () => {
    const client = createClient({ url: peer.url, protocol: "grpc", retry: false, grpc: { implementation: "iaas-h2" } });
    try {
      const n = 30;
      const abort = new AbortController();
      // Started in a plain function: an async function's suspended frame may keep the last promise it made.
      const { kept, keptRefs, endedRefs, endings } = startCalls(client, n, abort.signal);
      await peer.waitFor(2 * n);
      abort.abort();
      const codes = await Promise.all(endings);
      assert.deepEqual(new Set(codes), new Set(["cancelled", "deadline_exceeded"]));
      assert.equal(await collected(endedRefs), n, "every cancelled or timed-out call's promise is collected");
      assert.equal(await collected(keptRefs), 0, "calls still held keep their promises");
      // The held calls still settle with their own answers once the peer answers (the ended ones too, unread).
      assert.equal(peer.held.length, 2 * n);
      peer.release(reversed(peer.held.length));
      const results = await Promise.all(kept);
      for (let i = 0; i < n; i++) assert.equal((results[i] as { output(name: string): { data: ArrayLike<number> } }).output("OUTPUT0").data[0], i);
    } finally {
      await client.close();
    }
  });
});
