// The compact bookkeeping of calls in flight (session 5): the iaas-h2 session's stream table (a ring by
// stream id, with a Map for streams that stay open while many later ones come and go), and the HTTP
// pool's queue (two slots a request after a run marker; an aborted queued request is let go at once).
// Each test would fail if the structure lost, swapped or kept a call.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { createClient, InferenceError, Tensor } from "../src/index.ts";
import { StreamTable } from "../src/transport/grpc/wire-h2/stream-table.ts";
import { WireConnection } from "../src/transport/grpc/wire-h2/connection.ts";
import { wireUnaryCall } from "../src/transport/grpc/wire-h2/wire-call.ts";
import { requestHeaders } from "../src/transport/grpc/h2/unary-call.ts";
import { modelInferCodec } from "../src/transport/grpc/service.ts";
import { encodeInferRequest } from "../src/transport/grpc/infer-codec.ts";
import { holdingGrpcPeer, type HoldingGrpcPeer } from "./support/holding-grpc-peer.ts";
import { holdingEchoPeer } from "./support/holding-echo-peer.ts";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/** A deterministic pseudo-random sequence (xorshift), so a failure replays. */
function randoms(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe("StreamTable (iaas-h2 streams by id)", () => {
  test("matches a Map through 30,000 streams ended out of order, with stragglers held across the ring's growth", () => {
    const table = new StreamTable<{ id: number }>();
    const oracle = new Map<number, { id: number }>();
    const rnd = randoms(42);
    let nextId = 1;
    const check = (what: string): void => {
      assert.equal(table.size, oracle.size, `${what}: size`);
      for (const [id, v] of oracle) assert.equal(table.get(id), v, `${what}: stream ${id}`);
      assert.deepEqual(
        table.values().map((v) => v.id).sort((a, b) => a - b),
        [...oracle.keys()].sort((a, b) => a - b),
        `${what}: values()`,
      );
    };
    // A few streams that stay open throughout (the ring must move them aside, not grow over them).
    for (let k = 0; k < 3; k++) {
      const v = { id: nextId };
      table.add(nextId, v);
      oracle.set(nextId, v);
      nextId += 2;
    }
    const stragglers = [...oracle.keys()];
    for (let round = 0; round < 30; round++) {
      // Up to ~2,000 open, ended in random order; sometimes an id is skipped (never used).
      const burst = 200 + Math.floor(rnd() * 1800);
      for (let k = 0; k < burst; k++) {
        if (rnd() < 0.05) nextId += 2;
        const v = { id: nextId };
        table.add(nextId, v);
        oracle.set(nextId, v);
        nextId += 2;
      }
      const open = [...oracle.keys()].filter((id) => !stragglers.includes(id));
      for (const id of open) {
        if (rnd() < 0.8) {
          table.delete(id);
          oracle.delete(id);
          assert.equal(table.get(id), undefined, `stream ${id} gone`);
        }
      }
      if (round % 5 === 4) check(`round ${round}`);
    }
    check("after the rounds");
    // Ended and never-used ids are unknown; deleting them again changes nothing.
    assert.equal(table.get(nextId), undefined);
    assert.equal(table.get(nextId + 200), undefined);
    table.delete(1_000_001);
    table.delete(nextId + 2);
    for (const id of [...oracle.keys()]) {
      table.delete(id);
      oracle.delete(id);
    }
    check("all ended");
    for (const id of stragglers) assert.equal(table.get(id), undefined, `straggler ${id} gone`);
    // Empty, it starts again at the next id.
    const v = { id: nextId };
    table.add(nextId, v);
    assert.equal(table.get(nextId), v);
    assert.equal(table.size, 1);
  });

  test("ids must be new and odd (HTTP/2 client streams)", () => {
    const table = new StreamTable<object>();
    table.add(5, {});
    assert.throws(() => table.add(5, {}), /not a new odd id/);
    assert.throws(() => table.add(3, {}), /not a new odd id/);
    assert.throws(() => table.add(8, {}), /not a new odd id/);
    table.add(2 ** 31 - 1, {});
    assert.equal(table.size, 2);
  });
});

describe("iaas-h2: a call held while thousands of later calls come and go", () => {
  let peer: HoldingGrpcPeer;
  before(async () => {
    peer = await holdingGrpcPeer();
  });
  after(() => peer.close());

  test("the held call and every later one settle with their own answers (the ring moves the old stream aside)", { timeout: 60_000 }, async () => {
    const client = createClient({ url: peer.url, protocol: "grpc", retry: false, grpc: { implementation: "iaas-h2" } });
    try {
      const fp32 = (v: number) => new Tensor("INPUT0", "FP32", [1], Float32Array.of(v));
      const first = client.infer("echo", [fp32(-1)], { id: "held" });
      await peer.waitFor(1);
      const heldCall = peer.held.splice(0, 1);
      const rnd = randoms(7);
      for (let round = 0; round < 4; round++) {
        const n = 1500;
        const calls = Array.from({ length: n }, (_, i) => client.infer("echo", [fp32(round * n + i)], { id: `c${round * n + i}` }));
        await peer.waitFor(n);
        const order = Array.from({ length: n }, (_, i) => i);
        for (let i = n - 1; i > 0; i--) {
          const j = Math.floor(rnd() * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        peer.release(order);
        const results = await Promise.all(calls);
        results.forEach((r, i) => {
          assert.equal(r.id, `c${round * n + i}`);
          assert.equal((r.outputs[0]!.data as Float32Array)[0], round * n + i);
        });
      }
      peer.held.push(...heldCall);
      peer.release();
      const r = await first;
      assert.equal(r.id, "held");
      assert.equal((r.outputs[0]!.data as Float32Array)[0], -1);
    } finally {
      await client.close();
    }
  });
});

describe("iaas-h2: a connection that runs out of stream ids", () => {
  let peer: HoldingGrpcPeer;
  before(async () => {
    peer = await holdingGrpcPeer();
  });
  after(() => peer.close());

  test("calls beyond the last id (2^31 - 1) start on new connections, each request intact; one can still be cancelled", { timeout: 60_000 }, async () => {
    // Every connection starts 4 ids before the end: ids 2^31-7, -5, -3, -1, then a new connection.
    const conn = new WireConnection({ address: peer.url.slice("grpc://".length), secure: false, firstStreamId: 2 ** 31 - 7 });
    const headers = requestHeaders("http", "127.0.0.1", "/inference.GRPCInferenceService/ModelInfer");
    const codec = modelInferCodec();
    const call = (i: number, signal?: AbortSignal) =>
      wireUnaryCall<Buffer>(
        conn,
        {
          headers,
          message: codec.serialize(
            encodeInferRequest({
              model: "echo",
              id: `c${i}`,
              inputs: [new Tensor("INPUT0", "FP32", [2], Float32Array.of(i, -i))],
              binaryInputs: true,
              binaryOutputs: true,
            }),
          ),
          maxMessageLength: 1 << 20,
          signal,
        },
        true,
      );
    try {
      const aborter = new AbortController();
      const calls = Array.from({ length: 10 }, (_, i) => call(i, i === 9 ? aborter.signal : undefined));
      aborter.abort();
      await assert.rejects(calls[9]!, (e: unknown) => (e as { code?: number }).code === 1, "the aborted call is cancelled");
      await peer.waitFor(9);
      // The cancelled call's stream was open (reset at once): the server may or may not have seen it.
      assert.deepEqual(
        peer.held.map((h) => h.request.id).filter((id) => id !== "c9").sort(),
        Array.from({ length: 9 }, (_, i) => `c${i}`).sort(),
        "every other call reached the server once",
      );
      peer.release();
      for (let i = 0; i < 9; i++) {
        const answer = codec.deserialize(await calls[i]!) as { id: string; raw_output_contents: Buffer[] };
        assert.equal(answer.id, `c${i}`);
        const raw = answer.raw_output_contents[0]!;
        assert.deepEqual(Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length))), [i, -i]);
      }
    } finally {
      peer.release();
      conn.close();
    }
  });
});


describe("HTTP pool queue: runs of compact requests, Exchanges among them", () => {
  let peer: Awaited<ReturnType<typeof holdingEchoPeer>>;
  before(async () => {
    peer = await holdingEchoPeer();
  });
  after(() => peer.close());

  const input = (values: number[]) => new Tensor("INPUT0", "INT32", [1, values.length], Int32Array.from(values));
  const values = (r: { outputs: Tensor[] }) => Array.from(r.outputs[0]!.data as Int32Array);
  async function until(check: () => boolean, what: string): Promise<void> {
    const end = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  test("queued requests to two models, with and without signals, go out in order with their own model and data", async () => {
    const client = createClient({ url: peer.url, protocol: "http", connections: 1, retry: { attempts: 1 } });
    try {
      peer.seen.length = 0;
      peer.state.hold = true;
      // Warm both models' reused headers first (a repeated request is the one queued compactly).
      for (const m of ["m1", "m2", "m1", "m2"]) {
        const p = client.infer(m, [input([0])]);
        await until(() => peer.seen.length > 0, "a warm-up request");
        peer.release();
        await p;
        peer.seen.length = 0;
        peer.state.hold = true;
      }
      const first = client.infer("m1", [input([1])]);
      await until(() => peer.seen.length === 1, "the first request");
      const signal = new AbortController().signal;
      // Models switch every few requests (a new run each time); every fifth request carries a signal (an Exchange).
      const plan = Array.from({ length: 60 }, (_, i) => ({ model: Math.floor(i / 3) % 2 === 0 ? "m1" : "m2", value: i + 2, signal: i % 5 === 4 }));
      const calls = plan.map((c) => client.infer(c.model, [input([c.value, c.value])], c.signal ? { signal } : undefined));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(peer.seen.length, 1, "the rest waited in the client's queue");
      peer.release();
      assert.deepEqual(values(await first), [1]);
      const results = await Promise.all(calls);
      results.forEach((r, i) => assert.deepEqual(values(r), [plan[i]!.value, plan[i]!.value], `call ${i}'s own answer`));
      const sent = peer.seen.slice(1).map((s) => ({ path: s.path, value: s.body.readInt32LE(Number(/\r\ninference-header-content-length: *(\d+)/i.exec(s.head)![1])) }));
      assert.deepEqual(
        sent,
        plan.map((c) => ({ path: `/v2/models/${c.model}/infer`, value: c.value })),
        "FIFO, each request with its own model's head",
      );
    } finally {
      peer.release();
      await client.close();
    }
  });

  test("a request aborted while queued is let go at once, not when the queue reaches it", async () => {
    const client = createClient({ url: peer.url, protocol: "http", connections: 1, retry: { attempts: 1 } });
    try {
      peer.seen.length = 0;
      peer.state.hold = true;
      const first = client.infer("echo", [input([1])]);
      await until(() => peer.seen.length === 1, "the first request");
      const before = [client.infer("echo", [input([2])]), client.infer("echo", [input([3])])];
      const aborter = new AbortController();
      let data: Int32Array | undefined = new Int32Array(64 * 1024).fill(9);
      const dataRef = new WeakRef(data);
      const aborted = client.infer("echo", [new Tensor("INPUT0", "INT32", [1, data.length], data)], { signal: aborter.signal });
      data = undefined;
      const afterIt = client.infer("echo", [input([4])]);
      aborter.abort();
      // The error's stack is formatted here: until then V8 keeps its frames' receivers (the aborted request among them).
      await assert.rejects(aborted, (e: unknown) => e instanceof InferenceError && e.code === "cancelled" && typeof e.stack === "string");
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setImmediate(r));
        gc();
      }
      // assert.ok, not equal: a failing equal would print (and diff) all 65,536 values.
      assert.ok(dataRef.deref() === undefined, "the aborted request's tensor is not held by the queue");
      assert.equal(peer.seen.length, 1, "the calls before it still wait");
      peer.release();
      assert.deepEqual(values(await first), [1]);
      assert.deepEqual((await Promise.all(before)).map(values), [[2], [3]]);
      assert.deepEqual(values(await afterIt), [4]);
      assert.equal(peer.seen.length, 4, "the aborted request was never sent");
    } finally {
      peer.release();
      await client.close();
    }
  });
});
