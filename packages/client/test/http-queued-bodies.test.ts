// What the HTTP queue (fast/pool.ts) keeps of a request body while the request waits for a connection: a
// typed array spanning the whole of its own fixed-size ArrayBuffer is kept as that buffer, so the view object
// is let go (an event loop that hands its tensor to infer and forgets it frees it); any other view is kept as
// it is. Either way the bytes sent are the view's; a request whose buffer was transferred while it waited
// fails with a clear error and is never sent. Against the scripted loopback peer that answers as an
// identity model ("echo") and holds answers while told to.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { InferenceError, Tensor, type InferenceClient, type InferResult } from "../src/index.ts";
import { holdingEchoPeer } from "./support/holding-echo-peer.ts";
import { collect, withBusyConnection as busyConnection } from "./support/busy-connection.ts";

/** 64 INT32 values (256 B: more than V8 keeps inside a view) starting at `from`. */
const ramp = (from: number) => Int32Array.from({ length: 64 }, (_, i) => from + i);
const tensor = (data: Int32Array) => new Tensor("INPUT0", "INT32", [1, data.length], data);
const values = (r: InferResult) => Array.from(r.outputs[0]!.data as Int32Array);

/**
 * inferCallback as a promise of the answer's values. The callback is made where no input is in scope: a
 * closure keeps its whole scope chain, and the queue's letting go of the view would not show.
 */
function viaCallback(client: InferenceClient, input: Tensor): Promise<number[]> {
  const settle = settler<number[]>();
  client.inferCallback("echo", [input], (error, result) => (error ? settle.reject(error) : settle.resolve(values(result!))));
  return settle.promise;
}

function settler<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}


describe("HTTP: what a queued request keeps of its body", { timeout: 20_000 }, () => {
  let peer: Awaited<ReturnType<typeof holdingEchoPeer>>;
  before(async () => {
    peer = await holdingEchoPeer();
  });
  after(() => peer.close());

  /**
   * Runs `body` with the reused headers of `models` warm and the connection busy with a held request: every
   * call the body makes waits in the client's queue until it releases the peer.
   */
  const withBusyConnection = (models: string[], body: (client: InferenceClient) => Promise<void>): Promise<void> =>
    busyConnection(
      peer,
      async (client) => {
        for (const model of models) for (let i = 0; i < 2; i++) await client.infer(model, [tensor(ramp(0))]).catch(() => undefined);
      },
      tensor(ramp(1)),
      async (client, first) => {
        await body(client);
        assert.deepEqual(values(await first), Array.from(ramp(1)));
      },
    );

  test("a tensor spanning its own buffer: the view is let go while the request waits, every byte is still sent", async () => {
    await withBusyConnection(["echo"], async (client) => {
      const refs: WeakRef<Int32Array>[] = [];
      const calls: Promise<InferResult>[] = [];
      const callbacks: Promise<number[]>[] = [];
      // In a function of its own: a variable of this one would keep the last view (a caller that drops its inputs).
      const start = (i: number): void => {
        const data = ramp(100 * (i + 1));
        refs.push(new WeakRef(data));
        if (i % 2 === 0) calls.push(client.infer("echo", [tensor(data)]));
        else callbacks.push(viaCallback(client, tensor(data)));
      };
      for (let i = 0; i < 4; i++) start(i);
      await collect();
      assert.equal(peer.seen.length, 1, "the four requests still wait in the client's queue");
      assert.deepEqual(
        refs.map((r) => r.deref() === undefined),
        [true, true, true, true],
        "the queue let go of every view (it keeps the buffers)",
      );
      peer.release();
      assert.deepEqual(values(await calls[0]!), Array.from(ramp(100)));
      assert.deepEqual(await callbacks[0]!, Array.from(ramp(200)));
      assert.deepEqual(values(await calls[1]!), Array.from(ramp(300)));
      assert.deepEqual(await callbacks[1]!, Array.from(ramp(400)));
    });
  });

  test("views over part of a buffer, or over a resizable one, are kept as they are and send their own bytes only", async () => {
    await withBusyConnection(["echo"], async (client) => {
      // Offset into a larger buffer (a Buffer from Node's pool is such a view).
      const wide = Int32Array.from({ length: 256 }, (_, i) => 1000 + i);
      const inner = wide.subarray(64, 128);
      // At offset 0 but shorter than its buffer: the buffer's tail must not be sent.
      const head = new Int32Array(wide.buffer, 0, 64);
      // A fixed-length view of a resizable buffer that grows while the request waits.
      const growing = new ArrayBuffer(256, { maxByteLength: 1024 });
      const fixed = new Int32Array(growing, 0, 64);
      fixed.set(ramp(5000));
      const innerRef = new WeakRef(inner);
      // Bytes beyond a view's own would land before the next request's head: each has a request after it.
      const calls = [fixed, head, inner].map((data) => client.infer("echo", [tensor(data)]));
      growing.resize(1024);
      await collect();
      assert.ok(innerRef.deref() !== undefined, "a view into part of a buffer is kept");
      peer.release();
      const [a, b, c] = await Promise.all(calls);
      assert.deepEqual(values(a!), Array.from(ramp(5000)));
      assert.deepEqual(values(b!), Array.from({ length: 64 }, (_, i) => 1000 + i));
      assert.deepEqual(values(c!), Array.from({ length: 64 }, (_, i) => 1064 + i));
      // One more, so that stray bytes after the last of them would show too.
      assert.deepEqual(values(await client.infer("echo", [tensor(ramp(3))])), Array.from(ramp(3)));
      assert.equal(peer.seen.length, 5);
      for (const seen of peer.seen.slice(1)) {
        assert.match(seen.head, /^POST \/v2\/models\/echo\/infer HTTP\/1\.1\r\n/, "each request starts where the one before it ended");
        const headerLength = Number(/\r\ninference-header-content-length: *(\d+)/i.exec(seen.head)![1]);
        assert.equal(seen.body.length - headerLength, 256, "each request carried its view's 256 bytes");
      }
    });
  });

  test("a buffer transferred while its request waits: the request fails with a clear error and is never sent; the client goes on", async () => {
    await withBusyConnection(["echo"], async (client) => {
      // Compact in the queue (a repeated request), and an Exchange there (per-call headers).
      const compact = ramp(7);
      const full = ramp(9);
      const calls = [client.infer("echo", [tensor(compact)]), client.infer("echo", [tensor(full)], { headers: { "x-call": "9" } })].map((p) =>
        p.then(
          () => assert.fail("expected the call to fail"),
          (e: unknown) => e,
        ),
      );
      const moved = [new Int32Array(compact.buffer.transfer()), new Int32Array(full.buffer.transfer())];
      assert.equal(compact.byteLength + full.byteLength, 0, "the views are detached");
      peer.release();
      for (const error of await Promise.all(calls)) {
        assert.ok(error instanceof InferenceError, `expected an InferenceError, got ${String(error)}`);
        assert.equal(error.code, "invalid_argument");
        assert.match(error.message, /request body detached: an input's ArrayBuffer was transferred while the request waited/);
      }
      assert.equal(peer.seen.length, 1, "neither request was sent");
      assert.deepEqual(values(await client.infer("echo", [tensor(moved[0]!)])), Array.from(ramp(7)));
      assert.deepEqual(values(await client.infer("echo", [tensor(moved[1]!)], { headers: { "x-call": "9" } })), Array.from(ramp(9)));
    });
  });
});
