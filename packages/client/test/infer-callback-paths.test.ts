// inferCallback's own roads (session 5): on gRPC's iaas-h2 connection and on the HTTP fast path a call is
// started without making a single promise (the memory a call in flight saves: bench/inflight-memory.mjs
// "callback"), and the layers that cannot pass a callback on (infer retries) still call back once.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient, Tensor, type InferResult } from "../src/index.ts";
import { holdingGrpcPeer, type HoldingGrpcPeer } from "./support/holding-grpc-peer.ts";
import { httpRequestPeer, type HttpRequestPeer } from "./support/http-request-peer.ts";

/** How many promises `run` makes with the Promise constructor (the global is swapped while it runs). */
function promisesMadeBy(run: () => void): number {
  const Original = globalThis.Promise;
  let made = 0;
  globalThis.Promise = new Proxy(Original, {
    construct(target, args, newTarget) {
      made++;
      return Reflect.construct(target, args, newTarget === globalThis.Promise ? target : newTarget);
    },
  });
  try {
    run();
  } finally {
    globalThis.Promise = Original;
  }
  return made;
}

const fp32 = (v: number) => new Tensor("INPUT0", "FP32", [1], Float32Array.of(v));

describe("inferCallback on gRPC (iaas-h2)", () => {
  let peer: HoldingGrpcPeer;
  before(async () => {
    peer = await holdingGrpcPeer();
  });
  after(() => peer.close());

  test("starts no promise; held calls answered out of order reach the callback with their own contexts", { timeout: 60_000 }, async () => {
    const client = createClient({ url: peer.url, protocol: "grpc", retry: false, grpc: { implementation: "iaas-h2" } });
    try {
      // The connection and lazy state first.
      const warm = client.infer("echo", [fp32(0)]);
      await peer.waitFor(1);
      peer.release();
      await warm;
      const n = 300;
      const got = new Map<number, number>();
      let allBack!: () => void;
      const back = new Promise<void>((r) => (allBack = r));
      const callback = (error: unknown, result: InferResult | undefined, i: number): void => {
        assert.equal(error, null);
        got.set(i, (result!.outputs[0]!.data as Float32Array)[0]!);
        if (got.size === n) allBack();
      };
      const made = promisesMadeBy(() => {
        for (let i = 0; i < n; i++) client.inferCallback("echo", [fp32(i)], callback, undefined, i);
      });
      assert.equal(made, 0, "no promise per call");
      await peer.waitFor(n);
      peer.release(Array.from({ length: n }, (_, k) => (k * 7) % n));
      await back;
      for (let i = 0; i < n; i++) assert.equal(got.get(i), i);
    } finally {
      peer.release();
      await client.close();
    }
  });

  test("with infer retries (a layer that needs the promise) the callback still comes once", { timeout: 60_000 }, async () => {
    const client = createClient({ url: peer.url, protocol: "grpc", retry: { retryInfer: true, attempts: 2 }, grpc: { implementation: "iaas-h2" } });
    try {
      const outcome = new Promise<[unknown, InferResult | undefined, string]>((resolve) => client.inferCallback("echo", [fp32(5)], (e, r, c) => resolve([e, r, c]), undefined, "ctx"));
      await peer.waitFor(1);
      peer.release();
      const [error, result, context] = await outcome;
      assert.equal(error, null);
      assert.equal((result!.outputs[0]!.data as Float32Array)[0], 5);
      assert.equal(context, "ctx");
    } finally {
      peer.release();
      await client.close();
    }
  });
});

describe("inferCallback on the HTTP fast path", () => {
  let peer: HttpRequestPeer;
  before(async () => {
    // Answers every request with an INT32 [1] output holding the request's first input value.
    peer = await httpRequestPeer(({ head, body }, socket) => {
      const headerLength = Number(/\r\ninference-header-content-length: *(\d+)/i.exec(head)?.[1]);
      const value = body.subarray(headerLength, headerLength + 4);
      const json = JSON.stringify({ model_name: "echo", outputs: [{ name: "OUTPUT0", datatype: "INT32", shape: [1], parameters: { binary_data_size: 4 } }] });
      // One write: a head and body written apart would wait on Nagle and delayed ACKs (~40 ms an answer).
      const headText = `HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ninference-header-content-length: ${Buffer.byteLength(json)}\r\ncontent-length: ${Buffer.byteLength(json) + 4}\r\n\r\n`;
      socket.write(Buffer.concat([Buffer.from(headText), Buffer.from(json), value]));
    });
  });
  after(() => peer.close());

  test("queued calls start no promise and come back in order with their contexts", { timeout: 60_000 }, async () => {
    const client = createClient({ url: peer.url, protocol: "http", connections: 1, retry: false });
    try {
      const int32 = (v: number) => new Tensor("INPUT0", "INT32", [1], Int32Array.of(v));
      await client.infer("echo", [int32(0)]);
      await client.infer("echo", [int32(0)]); // the model's JSON header is reused from now on
      const n = 100;
      const order: [number, number][] = [];
      let allBack!: () => void;
      const back = new Promise<void>((r) => (allBack = r));
      const callback = (error: unknown, result: InferResult | undefined, i: number): void => {
        assert.equal(error, null);
        order.push([i, (result!.outputs[0]!.data as Int32Array)[0]!]);
        if (order.length === n) allBack();
      };
      const made = promisesMadeBy(() => {
        for (let i = 0; i < n; i++) client.inferCallback("echo", [int32(i + 1)], callback, undefined, i);
      });
      assert.equal(made, 0, "no promise per call");
      await back;
      assert.deepEqual(
        order,
        Array.from({ length: n }, (_, i) => [i, i + 1]),
      );
    } finally {
      await client.close();
    }
  });
});
