// `iaas bench --workers N`: the load runs in N worker threads (piscina), each with its own client and share of
// the load; their windows' HDR histograms are merged. Spawned against an in-process reference server.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, DEFAULT_MODEL_REPOSITORY } from "@iaas/server-native";
import { iaas, tempDir } from "./support/cli-process.ts";
import { successCount } from "./support/server-stats.ts";
import { AUTO_WORKERS, bench, clientLimited } from "../src/bench.ts";
import { startServe } from "./support/cli-process.ts";
import { decodeHistogram } from "../src/load/histogram.ts";

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server;
before(async () => {
  server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, modelRepository: DEFAULT_MODEL_REPOSITORY });
});
after(() => server.close());

const served = (): Promise<number> => successCount(server.httpUrl, "simple");

const SHORT = ["--warmup-ms", "100", "--measurement-interval", "300", "--max-trials", "3"];

test("clientLimited: a busy load thread with a short server queue", () => {
  const server = (queueUs: number) => ({ requests: 1, inferences: 1, executions: 1, failures: 0, requestUs: 100, queueUs, computeInputUs: 0, computeInferUs: 50, computeOutputUs: 0, clientOverheadUs: 10 });
  const ok = { requests: 1000, errorCount: 0 };
  assert.equal(clientLimited({ ...ok, clientUtilization: 0.95, server: server(2) }), true);
  assert.equal(clientLimited({ ...ok, clientUtilization: 0.95, server: server(60) }), false, "the server queues: it is the limit");
  assert.equal(clientLimited({ ...ok, clientUtilization: 0.5, server: server(2) }), false);
  assert.equal(clientLimited({ ...ok, clientUtilization: 0.95, server: null }), true);
  assert.equal(clientLimited({ requests: 10, errorCount: 500, clientUtilization: 0.99, server: null }), false, "busy failing, not loading");
  const open = (lateShare: number) => ({ sent: 1000, achievedRate: 8000, lateShare });
  assert.equal(clientLimited({ ...ok, clientUtilization: 1, server: server(2), openLoop: open(0.004) }), false, "an open loop on schedule limits nothing");
  assert.equal(clientLimited({ ...ok, clientUtilization: 1, server: server(2), openLoop: open(0.2) }), true, "an open loop falling behind does");
});

for (const [name, args] of [
  ["HTTP", () => ["-u", server.httpUrl]],
  ["gRPC", () => ["-u", server.grpcUrl, "-i", "grpc"]],
] as const) {
  test(`--workers 2 -c 8 over ${name}: two threads share the concurrency, merged histograms hold every request`, async () => {
    const out = join(tempDir("iaas-workers-"), "r.json");
    const before = await served();
    const r = await iaas(["bench", ...args(), "-c", "8", "--workers", "2", "--json", out, ...SHORT]);
    assert.equal(r.code, 0, r.stderr);
    const sent = (await served()) - before;
    const result = JSON.parse(readFileSync(out, "utf8"));
    assert.equal(result.settings.workers, 2);
    const level = result.levels[0];
    assert.equal(level.workers, 2);
    assert.equal(level.workerUtilization.length, 2);
    assert.ok(level.workerUtilization.every((u: number) => u > 0 && u <= 1), JSON.stringify(level.workerUtilization));
    assert.equal(level.maxInFlight, 8, "4 + 4 in flight");
    assert.ok(level.requests > 0 && level.requests <= sent, `${level.requests} measured, ${sent} served`);
    assert.equal(decodeHistogram(level.histograms.latencyUs).totalCount, level.requests);
    const windowSum = level.windows.slice(-level.mergedWindows).reduce((n: number, w: { requests: number }) => n + w.requests, 0);
    assert.equal(windowSum, level.requests);
  });
}

test("--workers 2 --request-rate 300: the rate is split, the achieved total matches the target", async () => {
  const out = join(tempDir("iaas-workers-"), "r.json");
  const r = await iaas(["bench", "-u", server.httpUrl, "--request-rate", "300", "--workers", "2", "--json", out, ...SHORT]);
  assert.equal(r.code, 0, r.stderr);
  const level = JSON.parse(readFileSync(out, "utf8")).levels[0];
  assert.equal(level.workers, 2);
  assert.ok(level.openLoop.achievedRate > 240 && level.openLoop.achievedRate < 360, `achieved ${level.openLoop.achievedRate}/s`);
  assert.equal(decodeHistogram(level.histograms.latencyFromSendUs).totalCount, level.requests);
  assert.equal(level.maxOutstanding, 512);
  assert.equal(level.capDelayed, 0, "300/s never fills 256 outstanding per worker");
});

test("--workers with an option the threads cannot run is refused", async () => {
  const r = await iaas(["bench", "-u", server.grpcUrl, "-i", "grpc", "--streaming", "--workers", "2", ...SHORT]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /worker threads do not combine with streaming/);
  const r2 = await iaas(["bench", "-u", server.httpUrl, "--workers", "0"]);
  assert.equal(r2.code, 2);
});

test("--workers auto: after a level whose bench thread was saturated, the next levels run on worker threads", async () => {
  // The server runs in its own process so that it keeps up; the bench thread is kept busy by a hook that
  // spins through most of every window, which is what a saturated load generator looks like from inside.
  const serve = await startServe();
  try {
    const notes: string[] = [];
    const result = await bench(
      { url: serve.httpUrl, concurrency: [1, 2], warmupMs: 0, windowMs: 50, maxTrials: 3, stabilityPercentage: 1000 },
      {
        onWindow: (label) => {
          if (label.load !== 1) return;
          const until = performance.now() + 1000;
          while (performance.now() < until);
        },
        onNote: (n) => notes.push(n),
      },
    );
    const [first, second] = result.levels;
    assert.equal(result.settings.workers, "auto");
    assert.ok(first!.clientUtilization > 0.9, `bench thread ${first!.clientUtilization}`);
    assert.equal(first!.workers, undefined, "the first level ran on the bench thread");
    // Concurrency 2 gives work to 2 of the AUTO_WORKERS threads at most.
    assert.equal(second!.workers, Math.min(AUTO_WORKERS, 2));
    assert.equal(second!.workerUtilization!.length, second!.workers);
    assert.ok(second!.requests > 0);
    assert.ok(notes.some((n) => /next levels run on \d+ worker threads/.test(n)), notes.join("; "));
  } finally {
    await serve.stop();
  }
});
