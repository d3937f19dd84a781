// The load engine and input building against a real reference server (in-process, port 0).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createClient, InferenceError, type InferenceClient } from "@iaas/client";
import { startServer, DEFAULT_MODEL_REPOSITORY } from "@iaas/server-native";
import { buildInputs, fetchModelInfo } from "../src/inputs/build.ts";
import { runLevel } from "../src/load/level.ts";
import { bench, BenchError } from "../src/bench.ts";

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server;

before(async () => {
  server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, modelRepository: DEFAULT_MODEL_REPOSITORY });
});
after(async () => {
  await server.close();
});

/** Delegates to a real client and counts how many infer calls are outstanding at once. */
function countingClient(client: InferenceClient) {
  const counts = { current: 0, max: 0, completed: 0 };
  const wrapped: InferenceClient = Object.create(client, {
    infer: {
      value: async (...args: Parameters<InferenceClient["infer"]>) => {
        counts.max = Math.max(counts.max, ++counts.current);
        try {
          return await client.infer(...args);
        } finally {
          counts.current--;
          counts.completed++;
        }
      },
    },
  });
  return { wrapped, counts };
}

async function inferenceCount(client: InferenceClient, model: string): Promise<bigint> {
  const [stats] = await client.modelStatistics(model);
  return stats!.inference_count;
}

test("inputs built from simple's metadata compute what simple computes", async () => {
  const client = createClient({ url: server.httpUrl, protocol: "http" });
  try {
    const info = await fetchModelInfo(client, "simple");
    assert.equal(info.maxBatchSize, 8);
    assert.deepEqual(info.inputs.map((i) => i.name), ["INPUT0", "INPUT1"]);
    const built = buildInputs(info, { batchSize: 3, data: "random", seed: 5 });
    assert.deepEqual([...built.tensors[0]!.shape], [3, 16]);
    const result = await client.infer("simple", built.tensors);
    const a = built.tensors[0]!.data as Int32Array;
    const b = built.tensors[1]!.data as Int32Array;
    const sum = result.output("OUTPUT0").data as Int32Array;
    const diff = result.output("OUTPUT1").data as Int32Array;
    assert.equal(sum.length, 48);
    for (let i = 0; i < 48; i++) {
      assert.equal(sum[i], a[i]! + b[i]!);
      assert.equal(diff[i], a[i]! - b[i]!);
    }
  } finally {
    await client.close();
  }
});

for (const protocol of ["http", "grpc"] as const) {
  test(`closed loop over ${protocol} keeps exactly N requests in flight and accounts for every one`, async () => {
    const client = createClient({ url: protocol === "http" ? server.httpUrl : server.grpcUrl, protocol });
    try {
      const info = await fetchModelInfo(client, "simple");
      const built = buildInputs(info, { batchSize: 2 });
      const { wrapped, counts } = countingClient(client);
      const before = await inferenceCount(client, "simple");
      const level = await runLevel({
        client: wrapped,
        model: "simple",
        inputs: built.tensors,
        batchSize: 2,
        concurrency: 6,
        warmupMs: 100,
        windowMs: 250,
        maxTrials: 3,
      });
      const served = (await inferenceCount(client, "simple")) - before;

      assert.equal(counts.max, 6, "never more than N outstanding");
      assert.equal(level.maxInFlight, 6, "and N reached");
      assert.equal(counts.current, 0, "drained after the level");
      assert.equal(served, BigInt(counts.completed * 2), "server saw every request the loop sent, batch 2 each");

      assert.equal(level.windows.length, 3);
      assert.equal(level.requests, level.windows.reduce((n, w) => n + w.requests, 0), "merged = sum of the last 3 windows");
      assert.ok(level.requests > 0 && level.requests <= counts.completed);
      assert.equal(level.errorCount, 0);
      assert.ok(level.throughput > 0);
      const seconds = level.durationMs / 1000;
      assert.ok(Math.abs(level.throughput - (level.requests * 2) / seconds) < 1, "throughput counts batch size");
      const l = level.latencyUs;
      assert.ok(l.min > 0 && l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max, JSON.stringify(l));
      assert.equal(l.selected.percentile, "avg", "stability checks the average latency by default, as perf_analyzer");
      assert.ok(Math.abs(l.selected.value - l.avg) < 0.1, `${l.selected.value} vs avg ${l.avg}`);
      assert.ok(level.clientUtilization > 0 && level.clientUtilization <= 1);
    } finally {
      await client.close();
    }
  });
}

test("a level whose requests fail counts the errors by code and keeps the loop closed", async () => {
  const client = createClient({ url: server.httpUrl, protocol: "http" });
  try {
    const info = await fetchModelInfo(client, "simple");
    const built = buildInputs(info);
    const level = await runLevel({ client, model: "no_such_model", inputs: built.tensors, concurrency: 3, warmupMs: 0, windowMs: 100, maxTrials: 3 });
    assert.equal(level.requests, 0);
    assert.equal(level.throughput, 0);
    assert.equal(level.stable, false);
    assert.ok((level.errors["not_found"] ?? 0) > 0, JSON.stringify(level.errors));
    assert.equal(level.errorCount, level.errors["not_found"]);
    assert.match(level.errorMessages["not_found"] ?? "", /no_such_model/);
    assert.equal(level.maxInFlight, 3);
  } finally {
    await client.close();
  }
});

test("fetchModelInfo rejects an unknown model with not_found", async () => {
  const client = createClient({ url: server.grpcUrl, protocol: "grpc" });
  try {
    await assert.rejects(fetchModelInfo(client, "no_such_model"), (e: unknown) => e instanceof InferenceError && e.code === "not_found");
    const mlp = await fetchModelInfo(client, "dense_mlp");
    const built = buildInputs(mlp, { batchSize: 4, data: "random" });
    assert.deepEqual([...built.tensors[0]!.shape], [4, 256]);
    const out = (await client.infer("dense_mlp", built.tensors)).outputs[0]!;
    assert.deepEqual([...out.shape], [4, 16]);
  } finally {
    await client.close();
  }
});

test("bench() sweeps the levels against a given URL and reports through its hooks", async () => {
  const seen: string[] = [];
  const result = await bench(
    { url: server.grpcUrl, protocol: "grpc", model: "identity_fp32", shapes: new Map([["INPUT0", [8]]]), concurrency: "1..2", warmupMs: 50, windowMs: 150, maxTrials: 3 },
    {
      onStart: (r) => seen.push(`start ${r.model.inputs.map((i) => `${i.name}[${i.shape.join(",")}]`).join(",")}`),
      onLevel: (level, r) => seen.push(`level ${level.concurrency} of ${r.levels.length}`),
    },
  );
  assert.equal(seen[0]!.startsWith("start INPUT0["), true, seen[0]);
  assert.match(seen[0]!, /\[(1,)?8\]/, "variable dimension taken from shapes");
  assert.deepEqual(seen.slice(1), ["level 1 of 1", "level 2 of 2"]);
  assert.equal(result.complete, true);
  assert.equal(result.server.embedded, false);
  assert.deepEqual(result.levels.map((l) => l.maxInFlight), [1, 2]);
  assert.ok(result.levels.every((l) => l.throughput > 0 && l.errorCount === 0));
});

test("bench() fails with a BenchError naming the model when it does not exist", async () => {
  await assert.rejects(
    bench({ url: server.httpUrl, model: "no_such_model", concurrency: [1], warmupMs: 0, windowMs: 100, maxTrials: 3 }),
    (e: unknown) => e instanceof BenchError && /cannot benchmark model "no_such_model" .*\[not_found\]/.test(e.message),
  );
});
