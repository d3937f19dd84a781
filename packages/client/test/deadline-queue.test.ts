// The event loop's deadline queue (transport/deadline-queue.ts): one timer for every call with a timeoutMs,
// instead of a timer (and, over HTTP, an AbortController) per call. Against real loopback peers on both
// protocols: calls past their deadline fail with deadline_exceeded and the usual message, never before
// their time; calls that end first are never failed later; mixed timeouts end in order; an abort still
// wins; and no timer is left to keep the process alive once the calls have ended.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as grpc from "@grpc/grpc-js";
import { inferenceServiceClient } from "../src/transport/grpc/service.ts";
import { createClient, InferenceError, Tensor } from "../src/index.ts";
import { DeadlineQueue, deadlines, type DeadlineTarget } from "../src/transport/deadline-queue.ts";
import { silentHttpPeer } from "./support/silent-http-peer.ts";
import { holdingGrpcPeer } from "./support/holding-grpc-peer.ts";
import { holdingEchoPeer } from "./support/holding-echo-peer.ts";

const fp32 = new Tensor("INPUT0", "FP32", [2], new Float32Array([1, 2]));
const int32 = new Tensor("INPUT0", "INT32", [2], new Int32Array([1, 2]));

async function failure(p: Promise<unknown>): Promise<InferenceError> {
  const e = await p.then(
    () => assert.fail("expected the call to fail"),
    (err: unknown) => err,
  );
  assert.ok(e instanceof InferenceError, `expected an InferenceError, got ${String(e)}`);
  return e;
}

/** Waits until the shared queue holds nothing (calls settle a turn or so after their answers). */
async function queueEmpty(): Promise<void> {
  for (let i = 0; i < 200 && (deadlines.size !== 0 || deadlines.armed); i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(deadlines.size, 0, "deadlines left in the queue");
  assert.equal(deadlines.armed, false, "the shared timer is still armed");
}

test("DeadlineQueue: in-order and out-of-order deadlines end earliest first; removed ones never", async () => {
  const q = new DeadlineQueue();
  const ended: string[] = [];
  const target = (name: string): DeadlineTarget => ({ deadlineSlot: 0, deadlinePassed: () => ended.push(name) });
  // 30/60/90 go to the ring; 10, 45 and 20 come out of order (heap); b and e are removed before their time.
  const all = { a: target("a"), b: target("b"), c: target("c"), d: target("d"), e: target("e"), f: target("f"), g: target("g") };
  q.add(all.a, 30);
  q.add(all.b, 60);
  q.add(all.c, 90);
  q.add(all.d, 10);
  q.add(all.e, 45);
  q.add(all.f, 20);
  q.add(all.g, 120);
  assert.equal(q.size, 7);
  q.remove(all.b);
  q.remove(all.e);
  q.remove(all.e); // twice: nothing
  assert.equal(all.b.deadlineSlot, 0);
  assert.equal(q.size, 5);
  const t0 = performance.now();
  while (q.size > 0 && performance.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(ended, ["d", "f", "a", "c", "g"]);
  assert.ok(performance.now() - t0 >= 119, "the last deadline passed early");
  assert.equal(q.armed, false);
});

test("DeadlineQueue: many same-timeout deadlines with most removed keep the ring short, the rest end in order", async () => {
  const q = new DeadlineQueue();
  const ended: number[] = [];
  const targets = Array.from({ length: 5000 }, (_, i) => ({ deadlineSlot: 0, deadlinePassed: () => ended.push(i) }));
  for (const t of targets) q.add(t, 50);
  // Calls ending in about the order they started, except every 100th.
  for (let i = 0; i < targets.length; i++) if (i % 100 !== 0) q.remove(targets[i]!);
  assert.equal(q.size, 50);
  // Later calls after the compaction point (the ring's slots move; removal must still find them).
  const late = Array.from({ length: 3000 }, (_, i) => ({ deadlineSlot: 0, deadlinePassed: () => ended.push(10_000 + i) }));
  for (const t of late) q.add(t, 60);
  for (let i = 0; i < late.length; i++) if (i % 1000 !== 0) q.remove(late[i]!);
  assert.equal(q.size, 53);
  while (q.size > 0) await new Promise((r) => setTimeout(r, 5));
  const expected = [...Array.from({ length: 50 }, (_, i) => i * 100), 10_000, 11_000, 12_000];
  assert.deepEqual(ended, expected);
  assert.equal(q.armed, false);
});

for (const protocol of ["grpc", "http"] as const) {
  const peerFor = async () => (protocol === "grpc" ? holdingGrpcPeer() : silentHttpPeer());
  const input = protocol === "grpc" ? fp32 : int32;

  test(`${protocol}: 200 calls with a deadline all fail with deadline_exceeded, not before their time; callbacks too`, async () => {
    const peer = await peerFor();
    // HTTP: 8 connections, so most calls wait in the client's queue when their deadline passes.
    const client = createClient({ url: peer.url, protocol, retry: false, connections: 8 });
    try {
      const t0 = performance.now();
      const calls = Array.from({ length: 200 }, () => failure(client.infer("held", [input], { timeoutMs: 150 })));
      let called = 0;
      const viaCallback = new Promise<unknown[]>((resolve) => {
        const errors: unknown[] = [];
        for (let i = 0; i < 20; i++)
          client.inferCallback(
            "held",
            [input],
            (e) => {
              called++;
              errors.push(e);
              if (errors.length === 20) resolve(errors);
            },
            { timeoutMs: 150 },
          );
      });
      const errors = await Promise.all(calls);
      const elapsed = performance.now() - t0;
      for (const e of errors) {
        assert.equal(e.code, "deadline_exceeded");
        assert.equal(e.message, "infer(held): deadline of 150 ms exceeded");
      }
      assert.ok(elapsed >= 149, `deadline passed early: ${elapsed} ms`);
      assert.ok(elapsed < 10_000, `deadline passed far too late: ${elapsed} ms`);
      for (const e of await viaCallback) {
        assert.ok(e instanceof InferenceError);
        assert.equal(e.code, "deadline_exceeded");
      }
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(called, 20, "a callback was called more than once");
      await queueEmpty();
    } finally {
      await client.close();
      await peer.close();
    }
  });

  test(`${protocol}: mixed timeouts end in the order of their deadlines; an abort still wins`, async () => {
    const peer = await peerFor();
    const client = createClient({ url: peer.url, protocol, retry: false });
    try {
      const order: number[] = [];
      const timeouts = [400, 100, 250, 50, 600, 175];
      const calls = timeouts.map((t) => failure(client.infer("held", [input], { timeoutMs: t })).then((e) => (order.push(t), e)));
      const abort = new AbortController();
      const aborted = failure(client.infer("held", [input], { timeoutMs: 30_000, signal: abort.signal }));
      setTimeout(() => abort.abort(), 20);
      const e = await aborted;
      assert.equal(e.code, "cancelled");
      const errors = await Promise.all(calls);
      assert.deepEqual(order, [...timeouts].sort((a, b) => a - b));
      errors.forEach((err, i) => {
        assert.equal(err.code, "deadline_exceeded");
        assert.equal(err.message, `infer(held): deadline of ${timeouts[i]} ms exceeded`);
      });
      await queueEmpty();
    } finally {
      await client.close();
      await peer.close();
    }
  });
}

test("grpc: calls answered before their deadline are never failed later, and leave no deadline behind", async () => {
  const peer = await holdingGrpcPeer();
  const client = createClient({ url: peer.url, protocol: "grpc", retry: false });
  try {
    let calls = 0;
    const results: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      for (let i = 0; i < 50; i++)
        client.inferCallback(
          "echo",
          [fp32],
          (e, r) => {
            calls++;
            results.push(e ?? r);
            if (results.length === 50) resolve();
          },
          { timeoutMs: 250 },
        );
    });
    await peer.waitFor(50);
    assert.equal(deadlines.size, 50);
    peer.release();
    await done;
    for (const r of results) assert.ok(!(r instanceof Error), `call failed: ${String(r)}`);
    await queueEmpty();
    // Past the deadline: nothing is called again.
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(calls, 50);
  } finally {
    await client.close();
    await peer.close();
  }
});

test("http: calls answered before their deadline (on connections and queued) are never failed later", async () => {
  const peer = await holdingEchoPeer();
  const client = createClient({ url: peer.url, protocol: "http", retry: false, connections: 4 });
  try {
    peer.state.hold = true;
    let settled = 0;
    // 12 calls on 4 connections: 8 wait in the queue (the peer holds every answer until released).
    const calls = Array.from({ length: 12 }, () => client.infer("echo", [int32], { timeoutMs: 1500 }).finally(() => settled++));
    await new Promise((r) => setTimeout(r, 50));
    // The 4 on connections each, and the pool once for the 8 it holds compactly (http-queued-deadlines-signals.test.ts).
    assert.equal(deadlines.size, 5);
    peer.release();
    for (const r of await Promise.all(calls)) assert.deepEqual(Array.from(r.output("OUTPUT0").data as Int32Array), [1, 2]);
    await queueEmpty();
    await new Promise((r) => setTimeout(r, 1600));
    assert.equal(settled, 12);
  } finally {
    await client.close();
    await peer.close();
  }
});

for (const implementation of ["iaas-h2", "http2"] as const) {
  test(`grpc (${implementation}): calls repeating a timeoutMs (one shared header list per timeout) each send the right grpc-timeout`, async () => {
    // A grpc-js peer that answers at once and records each call's deadline (from grpc-timeout) and metadata.
    const service = (inferenceServiceClient() as unknown as { service: grpc.ServiceDefinition }).service;
    const server = new grpc.Server();
    const seen: { deadline: number; call: unknown }[] = [];
    server.addService(service, {
      ModelInfer: (call: grpc.ServerUnaryCall<{ raw_input_contents: Buffer[] }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const d = call.getDeadline();
        seen.push({ deadline: d instanceof Date ? d.getTime() : Number(d), call: call.metadata.getMap()["x-call"] });
        const raw = call.request.raw_input_contents[0]!;
        cb(null, { model_name: "m", outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [raw.length / 4] }], raw_output_contents: [raw] });
      },
    });
    const port = await new Promise<number>((res, rej) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    const client = createClient({ url: `grpc://127.0.0.1:${port}`, protocol: "grpc", retry: false, grpc: { implementation } });
    try {
      const plan = [5000, 5000, 5000, 2000, 2000, 5000, 9000];
      for (const [i, t] of plan.entries()) {
        const headers = i === 4 ? { "x-call": "four" } : undefined;
        const started = Date.now();
        const r = await client.infer("m", [fp32], { timeoutMs: t, headers });
        const ended = Date.now();
        assert.deepEqual(Array.from(r.output("OUTPUT0").data as Float32Array), [1, 2]);
        const s = seen[i]!;
        // grpc-timeout is rounded up and the server counts from its arrival: never shorter than asked.
        assert.ok(s.deadline >= started + t - 5 && s.deadline <= ended + t + 100, `call ${i}: server deadline ${s.deadline - started} ms after the start, asked ${t}`);
        assert.equal(s.call, i === 4 ? "four" : undefined);
      }
      // A call without a deadline in between still sends none.
      await client.infer("m", [fp32]);
      assert.ok(!Number.isFinite(seen.at(-1)!.deadline), "a call without timeoutMs carried a deadline");
    } finally {
      await client.close();
      server.forceShutdown();
    }
  });
}

test("the process exits once calls with long deadlines have ended (no timer keeps it alive)", async () => {
  // A child that answers its own calls over both protocols with a 60 s deadline each, then closes everything:
  // a deadline timer left behind would keep it alive for a minute.
  const src = new URL("../src/index.ts", import.meta.url).href;
  const grpcPeer = new URL("./support/holding-grpc-peer.ts", import.meta.url).href;
  const httpPeer = new URL("./support/holding-echo-peer.ts", import.meta.url).href;
  const script = `
    import { createClient, Tensor } from ${JSON.stringify(src)};
    import { holdingGrpcPeer } from ${JSON.stringify(grpcPeer)};
    import { holdingEchoPeer } from ${JSON.stringify(httpPeer)};
    const g = await holdingGrpcPeer();
    const h = await holdingEchoPeer();
    const gc = createClient({ url: g.url, protocol: "grpc", retry: false });
    const hc = createClient({ url: h.url, protocol: "http", retry: false });
    const t = new Tensor("INPUT0", "INT32", [1], new Int32Array([7]));
    const calls = [];
    for (let i = 0; i < 20; i++) calls.push(gc.infer("echo", [t], { timeoutMs: 60000 }), hc.infer("echo", [t], { timeoutMs: 60000 }));
    await g.waitFor(20);
    g.release();
    await Promise.all(calls);
    await gc.close();
    await hc.close();
    await g.close();
    await h.close();
    console.log("ended");
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const t0 = performance.now();
  const code = await new Promise<number | null>((resolve) => {
    const guard = setTimeout(() => {
      child.kill("SIGKILL");
      resolve(null);
    }, 30_000);
    child.on("exit", (c) => {
      clearTimeout(guard);
      resolve(c);
    });
  });
  assert.equal(out.trim(), "ended");
  assert.equal(code, 0, `the child did not exit by itself (after ${Math.round(performance.now() - t0)} ms)`);
});
