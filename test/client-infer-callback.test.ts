// client.inferCallback against the reference server, on both protocols: answers and the caller's context
// come back once per call and never from inside the call that started them; failures (server errors,
// argument errors, abort, deadline) come as the InferenceErrors infer would reject with; requests queued
// for a connection (HTTP, one connection) keep their order and contexts; a callback that throws does not
// disturb the connection (its exception is raised on its own).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer, type RunningServer } from "@iaas/server-native";
import { InferenceError, Tensor, createClient, type InferResult, type InferenceClient } from "@iaas/client";

type Outcome = { error: InferenceError | null; result: InferResult | undefined; context: unknown; synchronous: boolean };

/** Runs `start(callback)` and resolves with what the callback got; records whether it ran before start returned. */
function viaCallback(start: (callback: (error: InferenceError | null, result: InferResult | undefined, context: unknown) => void) => void): Promise<Outcome> {
  return new Promise((resolve) => {
    let returned = false;
    start((error, result, context) => resolve({ error, result, context, synchronous: !returned }));
    returned = true;
  });
}

const pair = (a: number, b: number) => [
  new Tensor("INPUT0", "INT32", [1, 16], new Int32Array(16).fill(a)),
  new Tensor("INPUT1", "INT32", [1, 16], new Int32Array(16).fill(b)),
];

for (const protocol of ["http", "grpc"] as const) {
  describe(`inferCallback over ${protocol}`, () => {
    let srv: RunningServer;
    let client: InferenceClient;
    before(async () => {
      srv = await startServer({ httpPort: 0, grpcPort: 0 });
      client = createClient({ url: protocol === "grpc" ? srv.grpcUrl : srv.httpUrl, protocol, retry: false });
    });
    after(async () => {
      await client.close();
      await srv.close();
    });

    test("200 calls with one shared callback: each context once, with its own answer, never synchronously", async () => {
      const n = 200;
      const seen = new Map<number, InferResult>();
      let synchronous = 0;
      let inside = false;
      const all = new Promise<void>((resolve, reject) => {
        const callback = (error: InferenceError | null, result: InferResult | undefined, i: number): void => {
          if (inside) synchronous++;
          if (error !== null) return reject(error);
          assert.equal(seen.has(i), false, `context ${i} called back twice`);
          seen.set(i, result!);
          if (seen.size === n) resolve();
        };
        for (let i = 0; i < n; i++) {
          inside = true;
          client.inferCallback("simple", pair(i, 1), callback, undefined, i);
          inside = false;
        }
      });
      await all;
      assert.equal(synchronous, 0);
      for (let i = 0; i < n; i++) {
        assert.deepEqual(Array.from(seen.get(i)!.output("OUTPUT0").data as Int32Array), new Array(16).fill(i + 1), `sum of call ${i}`);
        assert.deepEqual(Array.from(seen.get(i)!.output("OUTPUT1").data as Int32Array), new Array(16).fill(i - 1), `difference of call ${i}`);
      }
    });

    test("failures come as infer's InferenceErrors, called back later: unknown model, bad arguments, abort, deadline", async () => {
      const missing = await viaCallback((cb) => client.inferCallback("no_such_model", pair(1, 1), cb, undefined, "m"));
      assert.ok(missing.error instanceof InferenceError && missing.error.code === "not_found", String(missing.error));
      assert.equal(missing.result, undefined);
      assert.equal(missing.context, "m");
      assert.equal(missing.synchronous, false);
      const promised = await client.infer("no_such_model", pair(1, 1)).then(
        () => assert.fail("infer of an unknown model succeeded"),
        (e: unknown) => e as InferenceError,
      );
      assert.equal(missing.error!.message, promised.message, "the same error as infer's");

      const bad = await viaCallback((cb) => client.inferCallback("simple", "not an array" as unknown as Tensor[], cb, undefined, 7));
      assert.ok(bad.error instanceof InferenceError && bad.error.code === "invalid_argument");
      assert.equal(bad.context, 7);
      assert.equal(bad.synchronous, false, "argument errors are called back, not thrown or called inside");
      assert.throws(
        () => client.inferCallback("simple", pair(1, 1), undefined as unknown as () => void),
        (e: unknown) => e instanceof InferenceError && e.code === "invalid_argument" && /callback must be a function/.test(e.message),
      );

      const big = () => [new Tensor("INPUT0", "FP32", [8_000_000], new Float32Array(8_000_000))];
      const ac = new AbortController();
      const abortedCall = viaCallback((cb) => client.inferCallback("identity_fp32", big(), cb, { signal: ac.signal }));
      ac.abort();
      const aborted = await abortedCall;
      assert.ok(aborted.error instanceof InferenceError && aborted.error.code === "cancelled", String(aborted.error));
      const late = await viaCallback((cb) => client.inferCallback("identity_fp32", big(), cb, { timeoutMs: 1 }));
      assert.ok(late.error instanceof InferenceError && late.error.code === "deadline_exceeded", String(late.error));
      const already = await viaCallback((cb) => client.inferCallback("simple", pair(1, 1), cb, { signal: AbortSignal.abort() }));
      assert.ok(already.error instanceof InferenceError && already.error.code === "cancelled");
      assert.equal(already.synchronous, false);

      // Options work as with infer: id and requested outputs.
      const some = await viaCallback((cb) => client.inferCallback("simple", pair(4, 1), cb, { id: "req-9", outputs: ["OUTPUT1"] }));
      assert.equal(some.error, null);
      assert.equal(some.result!.id, "req-9");
      assert.deepEqual(some.result!.outputs.map((o) => o.name), ["OUTPUT1"]);
      assert.deepEqual(Array.from(some.result!.output("OUTPUT1").data as Int32Array), new Array(16).fill(3));
    });

    test("a callback that throws: the exception is raised on its own, and the connection goes on", async () => {
      const raised = new Promise<unknown>((resolve) => {
        process.setUncaughtExceptionCaptureCallback((e) => {
          process.setUncaughtExceptionCaptureCallback(null);
          resolve(e);
        });
      });
      const boom = new Error("thrown by the callback");
      client.inferCallback("simple", pair(1, 1), () => {
        throw boom;
      });
      assert.equal(await raised, boom);
      const next = await client.infer("simple", pair(2, 2));
      assert.deepEqual(Array.from(next.output("OUTPUT0").data as Int32Array), new Array(16).fill(4));
    });
  });
}

describe("inferCallback over HTTP with one connection (calls queued in the client)", () => {
  let srv: RunningServer;
  before(async () => {
    srv = await startServer({ httpPort: 0, grpcPort: 0 });
  });
  after(() => srv.close());

  test("queued calls to two models, some with a signal, come back in order with their own contexts", async () => {
    const client = createClient({ url: srv.httpUrl, protocol: "http", connections: 1, retry: false });
    try {
      const signal = new AbortController().signal;
      const order: number[] = [];
      const n = 60;
      const done = new Promise<void>((resolve, reject) => {
        const callback = (error: InferenceError | null, result: InferResult | undefined, i: number): void => {
          if (error !== null) return reject(error);
          order.push(i);
          const out = result!.outputs[0]!.data as Int32Array | Float32Array;
          if (i % 2 === 0) assert.deepEqual(Array.from(out), new Array(16).fill(i + 1), `simple call ${i}`);
          else assert.deepEqual(Array.from(out), [i], `identity call ${i}`);
          if (order.length === n) resolve();
        };
        for (let i = 0; i < n; i++) {
          const options = i % 7 === 3 ? { signal } : undefined;
          if (i % 2 === 0) client.inferCallback("simple", pair(i, 1), callback, options, i);
          else client.inferCallback("identity_fp32", [new Tensor("INPUT0", "FP32", [1], Float32Array.of(i))], callback, options, i);
        }
      });
      await done;
      assert.deepEqual(order, Array.from({ length: n }, (_, i) => i), "one connection: answers in the order of the calls");
    } finally {
      await client.close();
    }
  });
});
