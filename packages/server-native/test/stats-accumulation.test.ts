// ModelStats adds per-request durations as numbers and folds them into exact bigint totals
// (stats/model-stats.ts): sums far beyond 2^53 ns must stay exact, counts and snapshots unchanged in meaning.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ModelStats } from "../src/stats/model-stats.ts";

test("duration sums beyond 2^53 ns stay exact; counts, batch and response stats add up", () => {
  const stats = new ModelStats("m", "1");
  const big = 2n ** 52n - 3n; // each add alone is exact as a number; their sum is not
  const timings = { computeInputNs: 1.4, computeInferNs: 2 ** 51 + 1, computeOutputNs: 0, queueNs: 0, startNs: 0, endNs: 0 };
  const n = 7;
  for (let i = 0; i < n; i++) stats.recordSuccess(2, big, 5n, timings);
  stats.recordFailure(big);
  stats.recordResponse("1", "empty_response", 3n);
  const s = stats.snapshot();
  assert.equal(s.inference_count, 14n);
  assert.equal(s.execution_count, 7n);
  assert.deepEqual(s.inference_stats.success, { count: 7n, ns: 7n * big });
  assert.deepEqual(s.inference_stats.fail, { count: 1n, ns: big });
  assert.deepEqual(s.inference_stats.queue, { count: 7n, ns: 35n });
  assert.deepEqual(s.inference_stats.compute_input, { count: 7n, ns: 7n }, "1.4 ns rounds to 1 per request");
  assert.deepEqual(s.inference_stats.compute_infer, { count: 7n, ns: 7n * (2n ** 51n + 1n) });
  assert.deepEqual(s.batch_stats.map((b) => [b.batch_size, b.compute_infer.count, b.compute_infer.ns]), [[2n, 7n, 7n * (2n ** 51n + 1n)]]);
  assert.deepEqual(s.response_stats["0"]!.success, { count: 7n, ns: 7n * big });
  assert.deepEqual(s.response_stats["0"]!.fail, { count: 1n, ns: big });
  assert.deepEqual(s.response_stats["1"]!.empty_response, { count: 1n, ns: 3n });
  assert.ok(s.last_inference > 0n && s.last_inference <= BigInt(Date.now()));
  // Snapshots are copies: later requests do not change an earlier snapshot.
  stats.recordSuccess(1, 10n, 0n, timings);
  assert.equal(s.inference_stats.success.count, 7n);
  assert.equal(stats.snapshot().inference_stats.success.count, 8n);
});
