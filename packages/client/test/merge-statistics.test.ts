// Statistics of several endpoints summed into one fleet view (what a multi-URL client's modelStatistics returns).
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ModelStatistics } from "../src/index.ts";
import { mergeStatistics } from "../src/transport/merge-statistics.ts";

const d = (count: number, ns: number) => ({ count: BigInt(count), ns: BigInt(ns) });

function stats(version: string, n: number, last: number, batches: number[], memoryId: number): ModelStatistics {
  const infer = { success: d(n, n * 10), fail: d(1, 5), queue: d(n, 1), compute_input: d(n, 2), compute_infer: d(n, 3), compute_output: d(n, 4), cache_hit: d(0, 0), cache_miss: d(0, 0) };
  return {
    name: "m",
    version,
    last_inference: BigInt(last),
    inference_count: BigInt(n),
    execution_count: BigInt(n - 1),
    inference_stats: infer,
    batch_stats: batches.map((b) => ({ batch_size: BigInt(b), compute_input: d(b, 1), compute_infer: d(b, 2), compute_output: d(b, 3) })),
    memory_usage: [{ type: "CPU", id: BigInt(memoryId), byte_size: 100n }] as ModelStatistics["memory_usage"],
    response_stats: { "0": { compute_infer: d(n, 1), compute_output: d(n, 1), success: d(n, 1), fail: d(0, 0), empty_response: d(0, 0), cancel: d(0, 0) } },
  };
}

test("counters and durations add up per model and version; last_inference is the latest; batch_stats merge by size", () => {
  const [m1, m2] = mergeStatistics([
    [stats("1", 5, 1000, [1, 4], 0), stats("2", 1, 10, [1], 0)],
    [stats("1", 7, 3000, [4, 8], 1)],
  ]);
  assert.equal(m1!.version, "1");
  assert.equal(m1!.inference_count, 12n);
  assert.equal(m1!.execution_count, 10n);
  assert.equal(m1!.last_inference, 3000n);
  assert.deepEqual(m1!.inference_stats.success, d(12, 120));
  assert.deepEqual(m1!.inference_stats.fail, d(2, 10));
  assert.deepEqual(
    m1!.batch_stats.map((b) => [b.batch_size, b.compute_infer.count]),
    [
      [1n, 1n],
      [4n, 8n],
      [8n, 8n],
    ],
  );
  assert.deepEqual(m1!.memory_usage.map((u) => u.id), [0n, 1n]);
  assert.deepEqual(m1!.response_stats["0"]!.success, d(12, 2));
  // Version 2 exists on one endpoint only: unchanged.
  assert.equal(m2!.version, "2");
  assert.equal(m2!.inference_count, 1n);
});
