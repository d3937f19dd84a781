// gRPC infer calls that share one AbortSignal (what `iaas bench` does: one stop signal for every call) on
// both HTTP/2 paths: the signal carries one listener however many calls are in flight (abort-watch.ts,
// not one per call: Node's EventTarget walks its list on every add and remove), none once they settled,
// and aborting it cancels every call still in flight while calls on other signals go on. Also how calls
// ended inside the transport (InferEnd) fail: malformed answers and server errors, once each.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { createClient, InferenceError, Tensor } from "../src/index.ts";
import { holdingGrpcPeer, type HoldingGrpcPeer } from "./support/holding-grpc-peer.ts";

const fp32 = (v: number) => new Tensor("INPUT0", "FP32", [1], Float32Array.of(v));

for (const implementation of ["iaas-h2", "http2"] as const) {
  describe(`calls sharing one AbortSignal, ${implementation}`, () => {
    let peer: HoldingGrpcPeer;
    before(async () => {
      peer = await holdingGrpcPeer();
    });
    after(() => peer.close());

    test("a malformed answer and a server error reject once, as InferenceErrors, and leave no call counted in flight", async () => {
      const client = createClient({ url: peer.url, protocol: "grpc", retry: false, grpc: { implementation } });
      try {
        const bad = assert.rejects(client.infer("m", [fp32(1)]), (e: unknown) => e instanceof InferenceError && e.code === "internal" && /malformed infer response/.test(e.message));
        const refused = assert.rejects(client.infer("m", [fp32(2)], { outputs: ["OUTPUT0"] }), (e: unknown) => e instanceof InferenceError && e.code === "not_found" && /no model m/.test(e.message));
        await peer.waitFor(2);
        const [first, second] = peer.held.splice(0);
        // Shape [3] needs 12 bytes; the raw entry has 4.
        first!.cb(null, { model_name: "m", outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [3] }], raw_output_contents: [Buffer.alloc(4)] });
        second!.cb({ code: grpc.status.NOT_FOUND, details: "no model m" } as grpc.ServiceError);
        await bad;
        await refused;
        assert.equal(client.endpoints()[0]!.outstanding, 0);
        // The same answer shape as a kept layout, then malformed: the full parse's error again.
        for (const raw of [Buffer.alloc(12), Buffer.alloc(12), Buffer.alloc(8)]) {
          const p = client.infer("m", [fp32(3)]);
          await peer.waitFor(1);
          peer.held.splice(0)[0]!.cb(null, { model_name: "m", outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [3] }], raw_output_contents: [raw] });
          if (raw.length === 12) assert.deepEqual(Array.from((await p).output("OUTPUT0").data as Float32Array), [0, 0, 0]);
          else await assert.rejects(p, (e: unknown) => e instanceof InferenceError && e.code === "internal");
        }
        assert.equal(client.endpoints()[0]!.outstanding, 0);
      } finally {
        peer.release();
        await client.close();
      }
    });

    test("one listener for all calls in flight, none after they settle; an abort cancels only that signal's calls", async () => {
      const client = createClient({ url: peer.url, protocol: "grpc", retry: false, grpc: { implementation } });
      try {
        const shared = new AbortController();
        const other = new AbortController();
        const calls = Array.from({ length: 20 }, (_, i) => client.infer("m", [fp32(i)], { signal: shared.signal }));
        const others = Array.from({ length: 3 }, (_, i) => client.infer("m", [fp32(100 + i)], { signal: other.signal }));
        await peer.waitFor(23);
        assert.equal(getEventListeners(shared.signal, "abort").length, 1);
        assert.equal(getEventListeners(other.signal, "abort").length, 1);
        shared.abort(new Error("stop"));
        for (const p of calls)
          await assert.rejects(p, (e: unknown) => e instanceof InferenceError && e.code === "cancelled");
        assert.equal(getEventListeners(shared.signal, "abort").length, 0);
        peer.release();
        const results = await Promise.all(others);
        results.forEach((r, i) => assert.equal((r.output("OUTPUT0").data as Float32Array)[0], 100 + i));
        assert.equal(getEventListeners(other.signal, "abort").length, 0, "settled calls leave no listener");
        // The same signal serves later calls again.
        const again = client.infer("m", [fp32(7)], { signal: other.signal });
        await peer.waitFor(1);
        assert.equal(getEventListeners(other.signal, "abort").length, 1);
        peer.release();
        assert.equal(((await again).output("OUTPUT0").data as Float32Array)[0], 7);
        assert.equal(getEventListeners(other.signal, "abort").length, 0);
      } finally {
        peer.release();
        await client.close();
      }
    });
  });
}
