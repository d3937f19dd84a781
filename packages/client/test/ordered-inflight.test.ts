// Ordered in-flight queue and mapOrdered: order kept under out-of-order completion, the in-flight bound,
// backpressure, per-event errors, cancellation. Tasks are deferred promises the test settles by hand, so
// completion order is exact and no timing is involved.
import { test } from "node:test";
import assert from "node:assert/strict";
import { OrderedInflight, mapOrdered, type Settled } from "../src/ordered-inflight.ts";
import { InferenceError } from "../src/errors.ts";

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

test("outcomes come in submission order although tasks finish in reverse; the window bounds what runs", async () => {
  const d = Array.from({ length: 6 }, () => deferred<string>());
  const started: number[] = [];
  const got: Settled<string>[] = [];
  const q = new OrderedInflight<string>({ maxInFlight: 3, onResult: (o) => got.push(o) });
  const submits = d.map((x, i) =>
    q.submit(() => {
      started.push(i);
      return x.promise;
    }),
  );
  await tick();
  assert.deepEqual(started, [0, 1, 2], "only maxInFlight tasks start");
  assert.equal(q.inFlight, 3);
  assert.equal(q.pending, 6);
  d[2]!.resolve("c");
  d[1]!.resolve("b");
  await tick();
  assert.equal(got.length, 0, "nothing released before event 0");
  assert.deepEqual(started, [0, 1, 2], "finished-but-unreleased outcomes still hold the window");
  d[0]!.resolve("a");
  await tick();
  assert.deepEqual(got.map((o) => o.index), [0, 1, 2]);
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(await Promise.all(submits), [0, 1, 2, 3, 4, 5]);
  d[5]!.resolve("f");
  d[3]!.reject(new Error("event 3 failed"));
  d[4]!.resolve("e");
  await q.close();
  assert.deepEqual(
    got.map((o) => (o.status === "fulfilled" ? o.value : `error: ${(o.reason as Error).message}`)),
    ["a", "b", "c", "error: event 3 failed", "e", "f"],
  );
  assert.deepEqual(got.map((o) => o.index), [0, 1, 2, 3, 4, 5]);
});

test("awaiting submit applies backpressure; iteration yields in order and ends after close", async () => {
  const q = new OrderedInflight<number>({ maxInFlight: 2 });
  const d = Array.from({ length: 5 }, () => deferred<number>());
  const producer = (async () => {
    const admitted: number[] = [];
    for (let i = 0; i < 5; i++) admitted.push(await q.submit(() => d[i]!.promise));
    await q.close();
    return admitted;
  })();
  const consumed: number[] = [];
  const consumer = (async () => {
    for await (const o of q) {
      assert.equal(o.status, "fulfilled");
      consumed.push(o.status === "fulfilled" ? o.value : -1);
    }
  })();
  await tick();
  assert.equal(q.pending, 3, "two running plus the one whose submit is waiting");
  // Complete in a scrambled order: 1, 0, 3, 2, 4.
  for (const i of [1, 0, 3, 2, 4]) {
    d[i]!.resolve(i * 10);
    await tick();
  }
  assert.deepEqual(await producer, [0, 1, 2, 3, 4]);
  await consumer;
  assert.deepEqual(consumed, [0, 10, 20, 30, 40]);
});

test("a task that throws synchronously is a rejected outcome in its place", async () => {
  const got: Settled<number>[] = [];
  const q = new OrderedInflight<number>({ maxInFlight: 4, onResult: (o) => got.push(o) });
  await q.submit(async () => 1);
  await q.submit(() => {
    throw new InferenceError("invalid_argument", "bad event");
  });
  await q.submit(() => 3);
  await q.close();
  assert.deepEqual(got.map((o) => o.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.equal(((got[1] as { reason: InferenceError }).reason).code, "invalid_argument");
  await assert.rejects(q.submit(async () => 4), /queue is closed/);
});

test("abort cancels running tasks through their signal and never starts queued ones", async () => {
  const started: number[] = [];
  const got: Settled<string>[] = [];
  const q = new OrderedInflight<string>({ maxInFlight: 2, onResult: (o) => got.push(o) });
  const task = (i: number) => (signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      started.push(i);
      signal.addEventListener("abort", () => reject(new InferenceError("cancelled", `task ${i} stopped`)));
    });
  const submits = [0, 1, 2, 3].map((i) => q.submit(task(i)));
  await tick();
  q.abort();
  assert.deepEqual(await Promise.all(submits), [0, 1, 2, 3]);
  await q.drain();
  assert.deepEqual(started, [0, 1]);
  assert.deepEqual(got.map((o) => o.index), [0, 1, 2, 3]);
  for (const o of got) {
    assert.equal(o.status, "rejected");
    assert.equal((o as { reason: InferenceError }).reason.code, "cancelled");
  }
  await assert.rejects(q.submit(async () => "x"), (e: unknown) => e instanceof InferenceError && e.code === "cancelled");
});

test("an onResult that throws stops the queue and rejects drain with its error", async () => {
  const q = new OrderedInflight<number>({
    maxInFlight: 2,
    onResult: (o) => {
      if (o.index === 1) throw new Error("writer failed");
    },
  });
  await q.submit(async () => 0);
  await q.submit(async () => 1);
  await assert.rejects(q.drain(), /writer failed/);
  await assert.rejects(q.submit(async () => 2), /writer failed/);
});

test("mapOrdered keeps input order, bounds pending calls, yields errors in place", async () => {
  const d = new Map<number, Deferred<number>>();
  let maxPending = 0;
  let pending = 0;
  function* inputs() {
    for (let i = 0; i < 8; i++) yield i;
  }
  const outcomes: string[] = [];
  const run = (async () => {
    for await (const o of mapOrdered(
      inputs(),
      (x) => {
        pending++;
        maxPending = Math.max(maxPending, pending);
        const def = deferred<number>();
        d.set(x, def);
        return def.promise.finally(() => pending--);
      },
      { concurrency: 3 },
    )) {
      outcomes.push(o.status === "fulfilled" ? `${o.input}:${o.value}` : `${o.input}:${(o.reason as Error).message}`);
    }
  })();
  // Finish each batch of started calls in reverse order until all 8 are done.
  for (let done = 0; done < 8; ) {
    await tick();
    const open = [...d.entries()].filter(([, v]) => v !== undefined).reverse();
    for (const [k, v] of open) {
      if (k === 5) v.reject(new Error("boom"));
      else v.resolve(k * k);
      d.delete(k);
      done++;
    }
  }
  await run;
  assert.ok(maxPending <= 3, `at most 3 calls pending, saw ${maxPending}`);
  assert.deepEqual(outcomes, ["0:0", "1:1", "2:4", "3:9", "4:16", "5:boom", "6:36", "7:49"]);
});

test("mapOrdered over an async source; a source error comes after the outcomes before it; break aborts", async () => {
  async function* source() {
    yield 1;
    yield 2;
    throw new Error("source broke");
  }
  const seen: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const o of mapOrdered(source(), async (x) => x * 2, { concurrency: 4 })) seen.push(o.status === "fulfilled" ? o.value : -1);
    })(),
    /source broke/,
  );
  assert.deepEqual(seen, [2, 4]);

  const signals: AbortSignal[] = [];
  for await (const o of mapOrdered(
    [1, 2, 3, 4],
    (x, _i, signal) => {
      signals.push(signal);
      return x === 1 ? Promise.resolve(x) : new Promise<number>(() => {});
    },
    { concurrency: 4 },
  )) {
    assert.equal(o.index, 0);
    break;
  }
  assert.equal(signals.length, 4);
  assert.ok(signals.every((s) => s.aborted), "leaving the loop aborts the calls still running");
});
