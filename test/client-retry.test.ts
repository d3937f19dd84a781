// Client retries against real endpoints: a closed port (connection refused) and a reference server that
// starts only after the first attempt failed. Both protocols.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { RunningServer } from "@iaas/server-native";
import { createClient, type Protocol, type RetryEvent } from "@iaas/client";
import { MODEL, freePort, input, makeRepository, rejection, serve, urlOf } from "./resilience-helpers.ts";

const repo = makeRepository();
let closedPort = 0;
before(async () => {
  closedPort = await freePort();
});
after(() => repo.remove());

for (const protocol of ["http", "grpc"] as const satisfies Protocol[]) {
  test(`${protocol}: idempotent calls are retried on connection refused; the error counts the attempts`, async () => {
    const events: RetryEvent[] = [];
    const client = createClient({
      url: urlOf(protocol, closedPort),
      retry: { attempts: 4, initialDelayMs: 5, maxDelayMs: 20, onRetry: (e) => events.push(e) },
    });
    const plain = createClient({ url: urlOf(protocol, closedPort), retry: false });
    try {
      const e = await rejection(client.isServerReady());
      assert.equal(e.code, "unavailable", e.message);
      assert.equal(e.attempts, 4);
      assert.match(e.message, /gave up after 4 attempts/);
      assert.deepEqual(
        events.map((ev) => [ev.operation, ev.attempts]),
        [
          ["isServerReady", 1],
          ["isServerReady", 2],
          ["isServerReady", 3],
        ],
      );
      assert.ok(events.every((ev) => ev.delayMs >= 0 && ev.delayMs <= 20 && ev.error.code === "unavailable"));

      const meta = await rejection(client.modelMetadata(MODEL));
      assert.equal(meta.attempts, 4);

      // Not idempotent: tried once, whatever the policy, unless retryInfer.
      events.length = 0;
      assert.equal((await rejection(client.infer(MODEL, [input()]))).attempts, 1);
      assert.equal((await rejection(client.loadModel(MODEL))).attempts, 1);
      assert.equal(events.length, 0);

      const once = await rejection(plain.serverMetadata());
      assert.equal(once.attempts, 1);
      assert.doesNotMatch(once.message, /attempts/);

      const [status] = client.endpoints();
      assert.equal(status?.state, "ejected");
      assert.match(status?.lastError ?? "", /connection failed/);
    } finally {
      await client.close();
      await plain.close();
    }
  });
}

test("backoff sleeps end on abort, on the deadline and on close()", async () => {
  let onRetry: (() => void) | undefined;
  const client = createClient({
    url: urlOf("http", closedPort),
    retry: { attempts: 50, initialDelayMs: 10_000, jitter: "none", onRetry: () => onRetry?.() },
  });
  try {
    // Abort while sleeping a 10 s backoff.
    const ac = new AbortController();
    onRetry = () => setTimeout(() => ac.abort(), 50);
    let t0 = Date.now();
    const cancelled = await rejection(client.serverMetadata({ signal: ac.signal }));
    assert.equal(cancelled.code, "cancelled", cancelled.message);
    assert.equal(cancelled.attempts, 1);
    assert.ok(Date.now() - t0 < 5000, `abort took ${Date.now() - t0} ms`);

    // A deadline shorter than the next backoff: fails at once with the last error, no sleep.
    onRetry = undefined;
    t0 = Date.now();
    const late = await rejection(client.serverMetadata({ timeoutMs: 2000 }));
    assert.equal(late.code, "unavailable");
    assert.match(late.message, /2000 ms deadline leaves no time/);
    assert.ok(Date.now() - t0 < 1500, `took ${Date.now() - t0} ms`);

    // close() ends a sleep in progress.
    onRetry = () => void client.close();
    const closed = await rejection(client.serverMetadata());
    assert.equal(closed.code, "failed_precondition", closed.message);
    assert.match(closed.message, /closed during retry backoff/);
  } finally {
    await client.close();
  }
});

test("the deadline covers every attempt and backoff", async () => {
  const client = createClient({
    url: urlOf("http", closedPort),
    retry: { attempts: 1000, initialDelayMs: 40, multiplier: 1, jitter: "none" },
  });
  try {
    const t0 = Date.now();
    const e = await rejection(client.isServerLive({ timeoutMs: 400 }));
    const took = Date.now() - t0;
    assert.ok(took < 3000, `took ${took} ms`);
    assert.ok(e.attempts > 1 && e.attempts < 1000, `attempts ${e.attempts}`);
    assert.ok(e.code === "unavailable" || e.code === "deadline_exceeded", e.message);
  } finally {
    await client.close();
  }
});

for (const protocol of ["http", "grpc"] as const satisfies Protocol[]) {
  test(`${protocol}: retryInfer reaches a server that starts after the first attempt failed`, async () => {
    const port = await freePort();
    let starting: Promise<RunningServer> | undefined;
    let retries = 0;
    const client = createClient({
      url: urlOf(protocol, port),
      retry: {
        attempts: 40,
        initialDelayMs: 50,
        maxDelayMs: 250,
        retryInfer: true,
        onRetry: (e) => {
          retries++;
          assert.equal(e.operation, `infer(${MODEL})`);
          starting ??= serve(repo.dir, protocol, port);
        },
      },
    });
    const strict = createClient({ url: urlOf(protocol, port), retry: { attempts: 40 } });
    try {
      // Without retryInfer an infer is tried once.
      assert.equal((await rejection(strict.infer(MODEL, [input()]))).attempts, 1);
      const result = await client.infer(MODEL, [input(3)]);
      assert.deepEqual(Array.from(result.output("OUTPUT0").data as Float32Array), [3, -3]);
      assert.ok(retries >= 1, "the first attempt should have failed");
      assert.ok(starting, "the server should have been started from onRetry");
    } finally {
      await client.close();
      await strict.close();
      await (await starting)?.close();
    }
  });
}
