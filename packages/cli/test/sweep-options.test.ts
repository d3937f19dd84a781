// The pieces of the sweep options that need no server: range syntax, schedules, interval files, thresholds,
// and the config rewrite of --instances.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRange, parseRateRange } from "../src/range.ts";
import { meanRate, parseRequestIntervals, rateIntervals, replayIntervals } from "../src/load/schedule.ts";
import { evaluateThresholds, parseThreshold } from "../src/gate/thresholds.ts";
import { instanceCountOf, pruneDefaults, withInstanceCount } from "../src/instances.ts";
import type { LevelResult } from "../src/load/level.ts";

test("integer ranges: A..B still doubles, A..B:xF multiplies, A..B:S steps", () => {
  assert.deepEqual(parseRange("1..64"), [1, 2, 4, 8, 16, 32, 64], "existing doubling kept");
  assert.deepEqual(parseRange("1..64:x4"), [1, 4, 16, 64]);
  assert.deepEqual(parseRange("1..50:x4"), [1, 4, 16], "B is not added after a factor step");
  assert.deepEqual(parseRange("2..20:x1.5"), [2, 3, 5, 7, 10, 15], "rounded, repeats skipped");
  assert.deepEqual(parseRange("1..4:1"), [1, 2, 3, 4]);
  assert.throws(() => parseRange("1..8:x1"), /factor 1 .*greater than 1/);
  assert.throws(() => parseRange("1..8:xa"), /invalid factor "a"/);
});

test("rate ranges accept decimals and the same three forms", () => {
  assert.deepEqual(parseRateRange("200"), [200]);
  assert.deepEqual(parseRateRange("0.5"), [0.5]);
  assert.deepEqual(parseRateRange("100..800"), [100, 200, 400, 800]);
  assert.deepEqual(parseRateRange("50..200:50"), [50, 100, 150, 200]);
  assert.deepEqual(parseRateRange("0.1..0.5:0.1"), [0.1, 0.2, 0.3, 0.4, 0.5], "no binary rounding drift");
  assert.deepEqual(parseRateRange("10..1000:x10"), [10, 100, 1000]);
  assert.throws(() => parseRateRange("0"), /at least 0\.001/);
  assert.throws(() => parseRateRange("abc"), /invalid value "abc".*requests\/s/);
  assert.throws(() => parseRateRange("5000000"), /at most 1000000/);
});

test("constant gaps are 1/rate; poisson gaps are seeded, exponential with the same mean", () => {
  const constant = rateIntervals(200, "constant");
  for (let i = 0; i < 5; i++) assert.equal(constant(), 5);

  const a = rateIntervals(200, "poisson", 7);
  const b = rateIntervals(200, "poisson", 7);
  const c = rateIntervals(200, "poisson", 8);
  const gapsA = Array.from({ length: 20_000 }, a);
  const gapsB = Array.from({ length: 20_000 }, b);
  const gapsC = Array.from({ length: 20_000 }, c);
  assert.deepEqual(gapsA, gapsB, "same seed, same schedule");
  assert.notDeepEqual(gapsA, gapsC, "another seed, another schedule");
  const mean = gapsA.reduce((x, y) => x + y, 0) / gapsA.length;
  const sd = Math.sqrt(gapsA.reduce((x, y) => x + (y - mean) ** 2, 0) / gapsA.length);
  assert.ok(Math.abs(mean - 5) < 0.15, `mean gap ${mean} ms, expected 5`);
  assert.ok(Math.abs(sd / mean - 1) < 0.05, `coefficient of variation ${sd / mean}, expected 1 for exponential gaps`);
  assert.ok(gapsA.every((g) => g >= 0 && Number.isFinite(g)));
});

test("request interval files: microseconds per line, comments and blanks skipped, replayed in a loop", () => {
  const us = parseRequestIntervals("1000\n\n# burst\n0\n3000.5\r\n", "f.txt");
  assert.deepEqual(us, [1000, 0, 3000.5]);
  const next = replayIntervals(us);
  assert.deepEqual(Array.from({ length: 7 }, next), [1, 0, 3.0005, 1, 0, 3.0005, 1]);
  assert.equal(meanRate([1000, 3000]), 500);
  assert.throws(() => parseRequestIntervals("10\nx1\n", "f.txt"), /f\.txt: line 2 is "x1", expected an interval in microseconds/);
  assert.throws(() => parseRequestIntervals("-5\n", "f.txt"), /line 1 is "-5"/);
  assert.throws(() => parseRequestIntervals("0\n0\n", "f.txt"), /add up to 0 us/);
  assert.throws(() => parseRequestIntervals("# only a comment\n", "f.txt"), /no intervals/);
});

function level(fields: Partial<LevelResult>): LevelResult {
  const latencyUs = { avg: 900, min: 100, max: 9000, stddev: 1, p50: 800, p90: 1500, p95: 2000, p99: 4000, p999: 8000, selected: { percentile: "avg" as const, value: 900 } };
  return { mode: "concurrency", load: 1, throughput: 1000, requests: 1000, errorCount: 0, errors: {}, latencyUs, ...fields } as LevelResult;
}

test("thresholds: units, operators, and which levels breach them", () => {
  assert.deepEqual(parseThreshold("p99<50ms"), { expression: "p99<50ms", metric: "p99", operator: "<", value: 50_000 });
  assert.equal(parseThreshold("p99.9 <= 2 s").value, 2_000_000);
  assert.equal(parseThreshold("avg<700us").value, 700);
  assert.equal(parseThreshold("p95<3").value, 3000, "latency without a unit is in ms");
  assert.equal(parseThreshold("throughput>=1000/s").value, 1000);
  assert.equal(parseThreshold("errors<1%").value, 1);
  assert.throws(() => parseThreshold("p42<1ms"), /unknown metric "p42"/);
  assert.throws(() => parseThreshold("p99<1h"), /latency unit must be us, ms or s/);
  assert.throws(() => parseThreshold("throughput>5ms"), /inferences\/s/);
  assert.throws(() => parseThreshold("p99 = 5"), /expected METRIC OP VALUE/);

  const ok = level({});
  const t = ["p99<5ms", "throughput>500", "errors<1%", "late<1%", "p99.9<=8ms"].map(parseThreshold);
  assert.deepEqual(evaluateThresholds(ok, t), [], "late does not apply to a closed loop; <= includes the bound");
  const bad = level({ throughput: 400, requests: 99, errorCount: 1, latencyUs: { ...ok.latencyUs, p99: 6000 } });
  assert.deepEqual(evaluateThresholds(bad, t), [
    { expression: "p99<5ms", actual: 6000 },
    { expression: "throughput>500", actual: 400 },
    { expression: "errors<1%", actual: 1 },
  ]);
  const open = level({ mode: "request_rate", openLoop: { sent: 100, sentRate: 100, achievedRate: 100, carriedIn: 0, lagAtEndMs: 0, late: 3, lateShare: 0.03, maxLateUs: 2000, latencyFromSendUs: ok.latencyUs } });
  assert.deepEqual(evaluateThresholds(open, [parseThreshold("late<1%")]), [{ expression: "late<1%", actual: 3 }]);
});

test("--instances rewrites only instance_group counts, after dropping proto3 defaults", () => {
  const readBack = {
    name: "m",
    platform: "",
    max_batch_size: 8,
    dynamic_batching: {},
    input: [{ name: "X", data_type: "TYPE_FP32", dims: ["16"], is_shape_tensor: false }],
    instance_group: [{ name: "m_0", kind: "KIND_CPU", count: 1, gpus: [], profile: [] }],
    parameters: { seed: { string_value: "0" } },
  };
  const pruned = pruneDefaults(readBack) as Record<string, unknown>;
  assert.deepEqual(pruned, {
    name: "m",
    max_batch_size: 8,
    dynamic_batching: {},
    input: [{ name: "X", data_type: "TYPE_FP32", dims: ["16"] }],
    instance_group: [{ name: "m_0", kind: "KIND_CPU", count: 1 }],
    parameters: { seed: { string_value: "0" } },
  });
  const three = withInstanceCount(pruned, 3);
  assert.deepEqual(three["instance_group"], [{ name: "m_0", kind: "KIND_CPU", count: 3 }]);
  assert.deepEqual({ ...three, instance_group: undefined }, { ...pruned, instance_group: undefined }, "everything else unchanged");
  assert.equal(instanceCountOf(three), 3);
  assert.equal(instanceCountOf(pruned), 1, "the original is not modified");
  assert.deepEqual(withInstanceCount({ name: "m" }, 2)["instance_group"], [{ count: 2 }]);
  assert.equal(instanceCountOf({ instance_group: [{ count: 1 }, { count: 2 }] }), null);
  assert.equal(instanceCountOf({ instance_group: [{ kind: "KIND_CPU" }] }), 1, "count defaults to 1");
});
