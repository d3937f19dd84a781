// HTTP requests with a timeoutMs or a signal that wait for a connection (fast/pool.ts): held compactly like
// the others (body, resolve function, and a due time if timed; the pool is in the event loop's deadline
// queue once for all of them, and watches each signal once), they fail at their deadline or when their
// signal fires while queued, never earlier, are never sent, let go of their tensors at once; a request a
// connection takes keeps what is left of its deadline and goes on watching its signal. A timeout shorter
// than the one before it (out of order) and calls made with a callback keep the same semantics. Against the
// scripted loopback peer that answers as an identity model and holds answers while told to.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { InferenceError, Tensor, type InferenceClient, type InferResult } from "../src/index.ts";
import { getEventListeners } from "node:events";
import { deadlines } from "../src/transport/deadline-queue.ts";
import { watchedTargets } from "../src/transport/abort-watch.ts";
import { holdingEchoPeer } from "./support/holding-echo-peer.ts";
import { collect, until, withBusyConnection as busyConnection } from "./support/busy-connection.ts";
import type { SeenRequest } from "./support/http-request-peer.ts";

const input = (values: number[]) => new Tensor("INPUT0", "INT32", [1, values.length], Int32Array.from(values));
const values = (r: InferResult) => Array.from(r.outputs[0]!.data as Int32Array);
const firstValue = (s: SeenRequest) => s.body.readInt32LE(Number(/\r\ninference-header-content-length: *(\d+)/i.exec(s.head)![1]));


/** Resolves with the call's error and how long after `start` it came (ms). */
async function failureAfter(p: Promise<unknown>, start: number): Promise<{ error: InferenceError; ms: number }> {
  const error = await p.then(
    () => assert.fail("expected the call to fail"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof InferenceError, `expected an InferenceError, got ${String(error)}`);
  const ms = performance.now() - start;
  // Formatting the stack lets V8 drop the receivers of the frames it captured (the request among them).
  assert.equal(typeof error.stack, "string");
  return { error, ms };
}

describe("HTTP: queued requests with a deadline or a signal", () => {
  let peer: Awaited<ReturnType<typeof holdingEchoPeer>>;
  before(async () => {
    peer = await holdingEchoPeer();
  });
  after(() => peer.close());

  /**
   * Runs `body` with the echo model's reused header warm and the connection busy with `first` (value 1),
   * held by the peer: every call the body makes waits in the client's queue until it releases the peer.
   */
  const withBusyConnection = (body: (client: InferenceClient, first: Promise<InferResult>) => Promise<void>): Promise<void> =>
    busyConnection(
      peer,
      async (client) => {
        for (let i = 0; i < 2; i++) assert.deepEqual(values(await client.infer("echo", [input([0])])), [0]);
      },
      input([1]),
      body,
    );

  test("fail at their deadline while queued (not before), are never sent, let go of their tensors; the pool watches them as one deadline", async () => {
    await withBusyConnection(async (client, first) => {
      // Every request has the warm-up's shape: a new shape gets a new header, and its first request an Exchange.
      let data: Int32Array | undefined = Int32Array.from([7]);
      const dataRef = new WeakRef(data);
      const start = performance.now();
      const plain = client.infer("echo", [input([2])]);
      const short1 = client.infer("echo", [new Tensor("INPUT0", "INT32", [1, 1], data)], { timeoutMs: 60 });
      const short2 = client.infer("echo", [input([3])], { timeoutMs: 60 });
      const long = client.infer("echo", [input([4])], { timeoutMs: 20_000 });
      const last = client.infer("echo", [input([5])]);
      data = undefined;
      // Three timed requests wait; as Exchanges they would be three entries of the deadline queue.
      assert.equal(deadlines.size, 1, "the queued timed requests are compact: the pool is in the deadline queue once");
      // Both fail in one turn: each gets its handler now, not when the loop reaches it.
      const outcomes = [short1, short2].map((p) => failureAfter(p, start));
      for (const outcome of outcomes) {
        const { error, ms } = await outcome;
        assert.equal(error.code, "deadline_exceeded");
        assert.match(error.message, /deadline of 60 ms exceeded/);
        assert.ok(ms >= 59, `failed ${ms.toFixed(1)} ms after the call, before its 60 ms deadline`);
      }
      await collect();
      assert.ok(dataRef.deref() === undefined, "the timed-out request's tensor is not held by the queue");
      assert.equal(deadlines.size, 1, "the pool still watches the 20 s deadline");
      assert.equal(peer.seen.length, 1, "nothing else was sent while the connection was busy");
      peer.release();
      assert.deepEqual(values(await first), [1]);
      assert.deepEqual(values(await plain), [2]);
      assert.deepEqual(values(await long), [4]);
      assert.deepEqual(values(await last), [5]);
      assert.deepEqual(peer.seen.map(firstValue), [1, 2, 4, 5], "FIFO, the timed-out requests never sent");
      assert.equal(deadlines.size, 0, "no deadline left once the calls ended");
      assert.deepEqual(client.endpoints().map((e) => e.outstanding), [0]);
    });
    assert.equal(deadlines.armed, false, "the shared timer is not left armed");
  });

  test("a request a connection takes keeps what is left of its deadline, not a fresh one", async () => {
    await withBusyConnection(async (client, first) => {
      const start = performance.now();
      const timed = client.infer("echo", [input([2])], { timeoutMs: 400 });
      await new Promise((r) => setTimeout(r, 250));
      // Answer the first request only: the timed one then goes out and is held until its deadline.
      peer.release();
      peer.state.hold = true;
      assert.deepEqual(values(await first), [1]);
      const { error, ms } = await failureAfter(timed, start);
      assert.equal(error.code, "deadline_exceeded");
      assert.match(error.message, /deadline of 400 ms exceeded/);
      assert.equal(peer.seen.length, 2, `the timed request was sent once the connection was free: ${JSON.stringify(peer.seen.map((x) => [x.path, firstValue(x)]))}`);
      assert.ok(ms >= 399, `failed after ${ms.toFixed(1)} ms, before its deadline`);
      // With a fresh 400 ms on the connection it would fail 650 ms or more after the call.
      assert.ok(ms < 640, `failed after ${ms.toFixed(1)} ms: the 250 ms spent queued were not counted`);
    });
  });

  test("a shorter deadline after a longer one still ends first; callbacks and promises alike", async () => {
    await withBusyConnection(async (client, first) => {
      const order: string[] = [];
      const start = performance.now();
      const slow = client.infer("echo", [input([2])], { timeoutMs: 300 }).catch((e: unknown) => {
        order.push("300 ms promise");
        throw e;
      });
      const fast = new Promise<{ error: unknown; ms: number }>((resolve) =>
        client.inferCallback("echo", [input([3])], (error) => {
          order.push("80 ms callback");
          resolve({ error, ms: performance.now() - start });
        }, { timeoutMs: 80 }),
      );
      const mid = new Promise<{ error: unknown; ms: number }>((resolve) =>
        client.inferCallback("echo", [input([4])], (error) => {
          order.push("150 ms callback");
          resolve({ error, ms: performance.now() - start });
        }, { timeoutMs: 150 }),
      );
      const untimed = client.infer("echo", [input([5])]);
      const { error: slowError, ms: slowMs } = await failureAfter(slow, start);
      assert.match(slowError.message, /deadline of 300 ms exceeded/);
      assert.ok(slowMs >= 299, `the 300 ms call failed after ${slowMs.toFixed(1)} ms`);
      for (const [{ error, ms }, timeout] of [[await fast, 80], [await mid, 150]] as const) {
        assert.ok(error instanceof InferenceError && error.code === "deadline_exceeded", `the ${timeout} ms callback got ${String(error)}`);
        assert.match(error.message, new RegExp(`deadline of ${timeout} ms exceeded`));
        assert.ok(ms >= timeout - 1, `the ${timeout} ms callback failed after ${ms.toFixed(1)} ms`);
      }
      assert.deepEqual(order, ["80 ms callback", "150 ms callback", "300 ms promise"], "each ended at its own deadline, earliest first");
      peer.release();
      assert.deepEqual(values(await first), [1]);
      assert.deepEqual(values(await untimed), [5]);
      assert.deepEqual(peer.seen.map(firstValue), [1, 5]);
    });
  });

  test("requests sharing a signal wait under one watch; answered, they leave no watch or listener behind", async () => {
    await withBusyConnection(async (client, first) => {
      const stop = new AbortController();
      const calls = [2, 3, 4, 5, 6].map((v) => client.infer("echo", [input([v])], { signal: stop.signal, ...(v % 2 === 0 ? { timeoutMs: 20_000 } : {}) }));
      // As Exchanges they would be five targets of the signal's watchers.
      assert.equal(watchedTargets(stop.signal), 1, "the queued requests are compact: the pool watches their signal once");
      peer.release();
      assert.deepEqual(values(await first), [1]);
      assert.deepEqual((await Promise.all(calls)).map(values), [[2], [3], [4], [5], [6]]);
      assert.equal(watchedTargets(stop.signal), 0, "no watch left on the signal");
      assert.equal(getEventListeners(stop.signal, "abort").length, 0, "no listener left on the signal");
      assert.equal(deadlines.size, 0);
      assert.deepEqual(peer.seen.map(firstValue), [1, 2, 3, 4, 5, 6]);
    });
  });

  test("a signal that fires fails its queued requests at once (timed or not, promise or callback), never sent, tensors let go; the rest go on", async () => {
    await withBusyConnection(async (client, first) => {
      const stop = new AbortController();
      const other = new AbortController();
      let data: Int32Array | undefined = Int32Array.from([7]);
      const dataRef = new WeakRef(data);
      const plain = client.infer("echo", [input([2])]);
      const stopped = [
        client.infer("echo", [new Tensor("INPUT0", "INT32", [1, 1], data)], { signal: stop.signal }),
        client.infer("echo", [input([3])], { signal: stop.signal, timeoutMs: 20_000 }),
        new Promise<unknown>((resolve, reject) => client.inferCallback("echo", [input([4])], (e, r) => (e ? reject(e) : resolve(r)), { signal: stop.signal })),
      ];
      const otherSignal = client.infer("echo", [input([5])], { signal: other.signal });
      const last = client.infer("echo", [input([6])]);
      data = undefined;
      const outcomes = stopped.map((p) => failureAfter(p, performance.now()));
      stop.abort();
      for (const outcome of outcomes) assert.equal((await outcome).error.code, "cancelled");
      await collect();
      assert.ok(dataRef.deref() === undefined, "the cancelled request's tensor is not held by the queue");
      assert.equal(deadlines.size, 0, "the cancelled timed request's deadline is not watched any longer");
      assert.equal(watchedTargets(other.signal), 1, "the other signal's request still waits");
      assert.equal(peer.seen.length, 1);
      peer.release();
      assert.deepEqual(values(await first), [1]);
      assert.deepEqual([await plain, await otherSignal, await last].map(values), [[2], [5], [6]]);
      assert.deepEqual(peer.seen.map(firstValue), [1, 2, 5, 6], "FIFO, the cancelled requests never sent");
      assert.equal(watchedTargets(other.signal), 0);
      assert.deepEqual(client.endpoints().map((e) => e.outstanding), [0]);
    });
  });

  test("a request a connection takes goes on watching its signal", async () => {
    await withBusyConnection(async (client, first) => {
      const stop = new AbortController();
      const call = client.infer("echo", [input([2])], { signal: stop.signal });
      const outcome = failureAfter(call, performance.now());
      // Answer the first request only: the second then goes out and is held.
      peer.release();
      peer.state.hold = true;
      assert.deepEqual(values(await first), [1]);
      await until(() => peer.seen.length === 2, "the second request on the connection");
      assert.equal(watchedTargets(stop.signal), 1, "the request on the connection watches the signal");
      stop.abort();
      assert.equal((await outcome).error.code, "cancelled");
      assert.equal(watchedTargets(stop.signal), 0);
    });
  });

  test("a seeded mix of 300 queued calls (deadlines in and out of order, three signals, callbacks, per-call headers) each end once, as their deadline and signal say", async () => {
    // Every path of the queue: compact entries with and without deadlines and signals, Exchanges among them
    // (per-call headers, out-of-order deadlines), deadlines passing while queued and after a connection took
    // the call, two signals firing while their calls wait.
    // mulberry32: the same mix on every run.
    let seed = 0x5eed;
    const random = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const ABORT_A_MS = 100;
    const ABORT_B_MS = 220;
    const RELEASE_MS = 400;
    const MARGIN_MS = 25;
    await withBusyConnection(async (client, first) => {
      const signals = { A: new AbortController(), B: new AbortController(), C: new AbortController() };
      type Plan = { value: number; signal: "A" | "B" | "C" | undefined; timeoutMs: number | undefined; callback: boolean; header: boolean };
      type Outcome = { error: unknown; result: InferResult | undefined; ms: number; settled: number };
      const plans: Plan[] = [];
      const outcomes: Outcome[] = [];
      const start = performance.now();
      const done: Promise<void>[] = [];
      for (let i = 0; i < 300; i++) {
        const r = random();
        const t = random();
        const plan: Plan = {
          value: i + 2,
          signal: r < 0.2 ? "A" : r < 0.4 ? "B" : r < 0.6 ? "C" : undefined,
          // Mostly deadlines that grow with the call's index (queued compactly, in deadline order, spanning the
          // aborts and the release), some at random (earlier than the last: those wait as Exchanges).
          timeoutMs: t < 0.4 ? 30 + Math.round(i * 1.5) : t < 0.55 ? 20 + Math.floor(random() * 500) : undefined,
          callback: random() < 0.3,
          header: random() < 0.1,
        };
        plans.push(plan);
        const outcome: Outcome = { error: undefined, result: undefined, ms: NaN, settled: 0 };
        outcomes.push(outcome);
        const options = {
          ...(plan.signal ? { signal: signals[plan.signal].signal } : {}),
          ...(plan.timeoutMs !== undefined ? { timeoutMs: plan.timeoutMs } : {}),
          ...(plan.header ? { headers: { "x-call": String(plan.value) } } : {}),
        };
        const end = (error: unknown, result: InferResult | undefined): void => {
          outcome.settled++;
          outcome.error = error;
          outcome.result = result;
          outcome.ms = performance.now() - start;
        };
        if (plan.callback) {
          done.push(new Promise<void>((resolve) => client.inferCallback("echo", [input([plan.value])], (e, r) => (end(e, r), resolve()), options)));
        } else {
          done.push(client.infer("echo", [input([plan.value])], options).then((r) => end(null, r), (e: unknown) => end(e, undefined)));
        }
      }
      setTimeout(() => signals.A.abort(), ABORT_A_MS);
      setTimeout(() => signals.B.abort(), ABORT_B_MS);
      setTimeout(() => peer.release(), RELEASE_MS);
      await Promise.all(done);
      assert.deepEqual(values(await first), [1]);
      const sent = new Set(peer.seen.slice(1).map(firstValue));
      const sentOrder = peer.seen.slice(1).map(firstValue);
      assert.deepEqual(sentOrder, [...sentOrder].sort((a, b) => a - b), "requests go out in the order they were made");
      plans.forEach((plan, i) => {
        const o = outcomes[i]!;
        const what = `call ${plan.value} (${JSON.stringify(plan)}) ended ${o.error ? `with ${String(o.error)}` : "answered"} at ${o.ms.toFixed(1)} ms`;
        assert.equal(o.settled, 1, `${what}: settled ${o.settled} times`);
        const abortAt = plan.signal === "A" ? ABORT_A_MS : plan.signal === "B" ? ABORT_B_MS : Infinity;
        const deadline = plan.timeoutMs ?? Infinity;
        if (o.error === null) {
          assert.deepEqual(values(o.result!), [plan.value], `${what}: its own answer`);
          assert.ok(sent.has(plan.value), `${what}: answered but never sent`);
          assert.ok(abortAt === Infinity, `${what}: answered though its signal fired while it waited`);
          return;
        }
        assert.ok(o.error instanceof InferenceError, `${what}: not an InferenceError`);
        if (o.error.code === "cancelled") {
          assert.ok(abortAt !== Infinity && o.ms >= abortAt - 1, `${what}: cancelled without its signal firing`);
          assert.ok(deadline >= abortAt - MARGIN_MS, `${what}: cancelled, though its deadline came well before the abort`);
        } else {
          assert.equal(o.error.code, "deadline_exceeded", `${what}: unexpected error`);
          assert.ok(o.ms >= deadline - 1, `${what}: failed before its deadline`);
          assert.ok(deadline <= abortAt + MARGIN_MS, `${what}: timed out, though its signal fired well before`);
        }
        // Everything waited in the queue until the release: a call that ended before it was never sent.
        if (o.ms < RELEASE_MS - MARGIN_MS) assert.ok(!sent.has(plan.value), `${what}: sent though it ended while queued`);
        // Untimed calls without a fired signal are always answered (checked above by elimination).
        assert.ok(deadline !== Infinity || abortAt !== Infinity, `${what}: failed with neither a deadline nor a fired signal`);
      });
      // Deadlines well before the release end queued; untimed calls on signal C or none are answered.
      for (const [i, plan] of plans.entries()) {
        const o = outcomes[i]!;
        if (plan.signal !== "A" && plan.signal !== "B" && (plan.timeoutMs ?? Infinity) < RELEASE_MS - 100) {
          assert.ok(o.error instanceof InferenceError && o.error.code === "deadline_exceeded", `call ${plan.value}: its ${plan.timeoutMs} ms deadline passed while it waited`);
          assert.ok(o.ms < RELEASE_MS, `call ${plan.value}: its ${plan.timeoutMs} ms deadline ended it only at ${o.ms.toFixed(1)} ms, after the release`);
        }
        if (plan.signal !== "A" && plan.signal !== "B" && plan.timeoutMs === undefined) assert.equal(o.error, null, `call ${plan.value}: answered`);
      }
      assert.equal(deadlines.size, 0, "no deadline left");
      for (const name of ["A", "B", "C"] as const) assert.equal(watchedTargets(signals[name].signal), 0, `nothing left watching signal ${name}`);
      assert.deepEqual(client.endpoints().map((e) => e.outstanding), [0]);
    });
  });
});
