// `iaas bench -m a:3 -m b:1` (load split by weight, per-model and total numbers) and
// `--concurrency-schedule` (fixed-duration closed-loop steps), spawned against an in-process reference server.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@iaas/client";
import { startServer, DEFAULT_MODEL_REPOSITORY } from "@iaas/server-native";
import { iaas, tempDir } from "./support/cli-process.ts";
import { parseConcurrencySchedule } from "../src/load/concurrency-schedule.ts";
import { splitByWeight } from "../src/load/composite.ts";
import { parseModelWeight } from "../src/requests/models.ts";

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server;
before(async () => {
  server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, modelRepository: DEFAULT_MODEL_REPOSITORY });
});
after(() => server.close());

const SHORT = ["--warmup-ms", "100", "--measurement-interval", "300", "--max-trials", "3"];

async function successCount(model: string): Promise<bigint> {
  const c = createClient({ url: server.httpUrl });
  try {
    const [s] = await c.modelStatistics(model);
    return s!.inference_stats.success.count;
  } finally {
    await c.close();
  }
}

test("weights split concurrency and rate; parsing of the model list and schedule", () => {
  assert.deepEqual(splitByWeight(8, [3, 1]), [6, 2]);
  assert.deepEqual(splitByWeight(4, [1, 1, 1]), [2, 1, 1]);
  assert.deepEqual(splitByWeight(1, [3, 1]), [1, 0]);
  assert.deepEqual(parseModelWeight("simple:3"), { name: "simple", weight: 3 });
  assert.deepEqual(parseModelWeight("simple"), { name: "simple", weight: 1 });
  assert.deepEqual(parseConcurrencySchedule("4@10s,16@500ms"), [
    { concurrency: 4, durationMs: 10_000 },
    { concurrency: 16, durationMs: 500 },
  ]);
  assert.deepEqual(
    parseConcurrencySchedule("1..4:x2@1s*2").map((s) => s.concurrency),
    [1, 2, 4, 1, 2, 4],
  );
  assert.throws(() => parseConcurrencySchedule("4"), /CONCURRENCY@DURATION/);
  assert.throws(() => parseConcurrencySchedule("4@soon"), /duration "soon"/);
});

test("-m simple:3 -m identity_fp32:1 -c 8: each model gets its share, the total is their sum", async () => {
  const dir = tempDir("iaas-multi-");
  const json = join(dir, "r.json");
  const before = [await successCount("simple"), await successCount("identity_fp32")];
  const r = await iaas(["bench", "-u", server.httpUrl, "-m", "simple:3", "-m", "identity_fp32:1", "-c", "8", "--json", json, ...SHORT]);
  assert.equal(r.code, 0, r.stderr);
  const after = [await successCount("simple"), await successCount("identity_fp32")];
  const result = JSON.parse(readFileSync(json, "utf8"));
  assert.deepEqual(result.settings.models, [
    { name: "simple", weight: 3 },
    { name: "identity_fp32", weight: 1 },
  ]);
  const level = result.levels[0];
  assert.equal(level.maxInFlight, 8, "6 + 2 requests in flight");
  const [a, b] = level.models;
  assert.equal(a.model, "simple");
  assert.equal(a.load, 6);
  assert.equal(b.model, "identity_fp32");
  assert.equal(b.load, 2);
  assert.ok(a.requests > 0 && b.requests > 0);
  assert.equal(a.requests + b.requests, level.requests, "the total merges both models' windows");
  assert.ok(Math.abs(a.throughput + b.throughput - level.throughput) < level.throughput * 0.05 + 1, `${a.throughput} + ${b.throughput} vs ${level.throughput}`);
  // Both models were really loaded at the server.
  assert.ok(after[0]! - before[0]! >= BigInt(a.requests));
  assert.ok(after[1]! - before[1]! >= BigInt(b.requests));
  assert.match(r.stderr, /several models/);
});

test("--concurrency-schedule runs each step for its duration, one level per step", async () => {
  const dir = tempDir("iaas-sched-");
  const json = join(dir, "r.json");
  const r = await iaas(["bench", "-u", server.httpUrl, "--concurrency-schedule", "1@400ms,4@400ms*2", "--json", json, "--warmup-ms", "0", "-p", "200"]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(readFileSync(json, "utf8"));
  assert.equal(result.settings.concurrencySchedule, "1@400ms,4@400ms*2");
  assert.deepEqual(result.levels.map((l: { concurrency: number }) => l.concurrency), [1, 4, 1, 4]);
  for (const l of result.levels) {
    assert.equal(l.stepDurationMs, 400);
    assert.equal(l.windows.length, 2, "400 ms in windows of 200 ms, not stopped at stability");
    assert.equal(l.maxInFlight, l.concurrency);
    assert.ok(l.requests > 0);
  }
  assert.doesNotMatch(r.stderr, /unstable/, "steps are not judged by stability");
});

test("usage errors: a data file with several models, a malformed schedule", async () => {
  const r1 = await iaas(["bench", "-u", server.httpUrl, "--concurrency-schedule", "8"]);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /CONCURRENCY@DURATION/);
  const r2 = await iaas(["bench", "-u", server.httpUrl, "-m", "simple", "-m", "simple:2"]);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /given twice/);
});
