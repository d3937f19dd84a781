// One client in front of several real reference servers: how calls are spread (read back from each
// server's own statistics), fail-over, ejection of a server that goes away mid-run and its return after
// health probes, broadcast load/unload and summed statistics.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { startServer, type RunningServer } from "@iaas/server-native";
import { InferenceError, createClient, type InferenceClient, type Protocol } from "@iaas/client";
import {
  MODEL,
  freePort,
  inferenceCount,
  input,
  makeRepository,
  portOf,
  rejection,
  serve,
  slowProxy,
  urlOf,
  waitFor,
} from "./resilience-helpers.ts";

const repo = makeRepository();
after(() => repo.remove());

async function sequential(client: InferenceClient, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await client.infer(MODEL, [input(i)]);
    assert.equal((r.output("OUTPUT0").data as Float32Array)[0], i);
  }
}

for (const protocol of ["http", "grpc"] as const satisfies Protocol[]) {
  test(`${protocol}: round-robin splits sequential calls exactly; statistics are summed over the servers`, async () => {
    const [a, b] = await Promise.all([serve(repo.dir), serve(repo.dir)]);
    const client = createClient({
      url: [urlOf(protocol, portOf(a!, protocol)), urlOf(protocol, portOf(b!, protocol))],
      balance: "round-robin",
    });
    try {
      await sequential(client, 20);
      assert.equal(await inferenceCount(a!), 10n);
      assert.equal(await inferenceCount(b!), 10n);
      const status = client.endpoints();
      assert.deepEqual(
        status.map((s) => [s.state, s.requests, s.outstanding]),
        [
          ["healthy", 10, 0],
          ["healthy", 10, 0],
        ],
      );
      const [merged] = await client.modelStatistics(MODEL);
      assert.equal(merged?.inference_count, 20n);
      assert.equal(merged?.inference_stats.success.count, 20n);
      // Metadata and health come from any one endpoint.
      assert.equal((await client.modelMetadata(MODEL)).name, MODEL);
      assert.equal(await client.isServerReady(), true);
    } finally {
      await client.close();
      await Promise.all([a!.close(), b!.close()]);
    }
  });
}

test("least-outstanding sends the calls to the idle server, not to the slow one", async () => {
  const [a, b] = await Promise.all([serve(repo.dir), serve(repo.dir)]);
  // Every request to `a` is held 500 ms on the way: a call there stays outstanding that long.
  const proxy = await slowProxy(a!.httpPort, 500);
  const client = createClient({ url: [`http://127.0.0.1:${proxy.port}`, b!.httpUrl], balance: "least-outstanding" });
  try {
    // Two workers share 20 calls. Round-robin would give each server 10.
    let left = 20;
    const worker = async (): Promise<void> => {
      while (left > 0) {
        left--;
        await client.infer(MODEL, [input()]);
      }
    };
    await Promise.all([worker(), worker()]);
    const slow = await inferenceCount(a!);
    const idle = await inferenceCount(b!);
    assert.equal(slow + idle, 20n);
    assert.ok(slow <= 3n, `the slow server got ${slow} of 20 calls`);
  } finally {
    await client.close();
    await proxy.close();
    await Promise.all([a!.close(), b!.close()]);
  }
});

test("an infer refused by one endpoint goes to another (nothing was sent), and the endpoint is ejected", async () => {
  const b = await serve(repo.dir);
  const closed = await freePort();
  const client = createClient({ url: [urlOf("http", closed), b.httpUrl], balance: "round-robin", retry: false });
  try {
    await sequential(client, 10);
    assert.equal(await inferenceCount(b), 10n);
    const [down, up] = client.endpoints();
    assert.equal(down?.state, "ejected");
    assert.equal(down?.ejections, 1);
    assert.match(down?.lastError ?? "", /ECONNREFUSED/);
    assert.equal(up?.state, "healthy");
    assert.equal(up?.requests, 10);
  } finally {
    await client.close();
    await b.close();
  }
});

for (const protocol of ["http", "grpc"] as const satisfies Protocol[]) {
  test(`${protocol}: a server closed mid-run: no failed infer with retryInfer, the survivor takes everything, the restarted server returns`, async () => {
    let a = await serve(repo.dir, protocol);
    const b = await serve(repo.dir, protocol);
    const portA = portOf(a, protocol);
    const client = createClient({
      url: [urlOf(protocol, portA), urlOf(protocol, portOf(b, protocol))],
      balance: "round-robin",
      retry: { attempts: 6, initialDelayMs: 20, maxDelayMs: 100, retryInfer: true },
      healthCheck: { intervalMs: 100, timeoutMs: 500 },
    });
    let restarted: RunningServer | undefined;
    try {
      let running = true;
      let done = 0;
      const failures: unknown[] = [];
      const worker = async (): Promise<void> => {
        while (running) {
          try {
            await client.infer(MODEL, [input()]);
            done++;
          } catch (e) {
            failures.push(e);
          }
        }
      };
      const workers = [worker(), worker(), worker()];
      await waitFor("calls before the kill", () => done >= 30);
      await a.close();
      await waitFor("the closed server to be ejected", () => client.endpoints()[0]?.state === "ejected");
      const beforeKill = done;
      await waitFor("calls after the kill", () => done >= beforeKill + 30);
      running = false;
      await Promise.all(workers);
      assert.deepEqual(
        failures.map((e) => (e instanceof InferenceError ? `${e.code}: ${e.message}` : String(e))),
        [],
      );

      // Everything goes to the survivor now.
      const bBefore = await inferenceCount(b);
      await sequential(client, 20);
      assert.equal((await inferenceCount(b)) - bBefore, 20n);

      // Same port again: the probes bring it back into rotation.
      restarted = await serve(repo.dir, protocol, portA);
      a = restarted;
      await waitFor("the restarted server to be healthy again", () => client.endpoints()[0]?.state === "healthy");
      const bAgain = await inferenceCount(b);
      await sequential(client, 20);
      assert.equal(await inferenceCount(restarted), 10n);
      assert.equal((await inferenceCount(b)) - bAgain, 10n);
      assert.ok((client.endpoints()[0]?.ejections ?? 0) >= 1);
    } finally {
      await client.close();
      await Promise.all([a.close(), b.close()]);
    }
  });
}

test("load and unload go to every endpoint and fail naming the endpoints that failed", async () => {
  const [a, b] = await Promise.all([serve(repo.dir), serve(repo.dir)]);
  const client = createClient({ url: [a!.httpUrl, b!.httpUrl] });
  const direct = [a!, b!].map((s) => createClient({ url: s.httpUrl }));
  try {
    await client.unloadModel(MODEL);
    assert.deepEqual(await Promise.all(direct.map((c) => c.isModelReady(MODEL))), [false, false]);
    await client.loadModel(MODEL);
    assert.deepEqual(await Promise.all(direct.map((c) => c.isModelReady(MODEL))), [true, true]);

    await b!.close();
    const e = await rejection(client.loadModel(MODEL));
    assert.equal(e.code, "unavailable");
    assert.match(e.message, new RegExp(`loadModel\\(${MODEL}\\) failed on 1 of 2 endpoints: ${b!.httpUrl}: `));
    assert.equal(await direct[0]!.isModelReady(MODEL), true);
  } finally {
    await client.close();
    await Promise.all(direct.map((c) => c.close()));
    await Promise.all([a!.close(), b!.close()]);
  }
});

for (const protocol of ["http", "grpc"] as const satisfies Protocol[]) {
  test(`${protocol}: readiness probes carry the client's credentials (servers that require them stay in rotation)`, async () => {
    const auth = { bearerTokens: ["probe-token"] };
    const [a, b] = await Promise.all([0, 1].map(() => startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, auth })));
    const client = createClient({
      url: [urlOf(protocol, portOf(a!, protocol)), urlOf(protocol, portOf(b!, protocol))],
      auth: { bearer: "probe-token" },
      healthCheck: { intervalMs: 30 },
    });
    try {
      await new Promise((r) => setTimeout(r, 300)); // several probe rounds
      assert.deepEqual(
        client.endpoints().map((e) => [e.state, e.failures]),
        [
          ["healthy", 0],
          ["healthy", 0],
        ],
      );
      await sequential(client, 2);
    } finally {
      await client.close();
      await Promise.all([a!.close(), b!.close()]);
    }
  });
}

test("endpoint lists are checked: one protocol, at least one URL", () => {
  assert.throws(
    () => createClient({ url: ["http://127.0.0.1:1", "grpc://127.0.0.1:2"] }),
    (e: unknown) => e instanceof InferenceError && e.code === "invalid_argument" && /one protocol/.test(e.message),
  );
  assert.throws(
    () => createClient({ url: [] }),
    (e: unknown) => e instanceof InferenceError && e.code === "invalid_argument" && /non-empty/.test(e.message),
  );
  assert.throws(
    () => createClient({ url: ["http://127.0.0.1:1"], balance: "random" as never }),
    (e: unknown) => e instanceof InferenceError && /balance must be/.test(e.message),
  );
});
