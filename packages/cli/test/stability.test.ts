// perf_analyzer's stability rule and the window/histogram statistics it is applied to.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isStable } from "../src/load/stability.ts";
import { initHistograms } from "../src/load/histogram.ts";
import { Window, windowStats, errorCode, type WindowStats } from "../src/load/window.ts";
import { measurementSettings } from "../src/load/level.ts";

function w(throughput: number, p: number): WindowStats {
  return {
    durationMs: 1000,
    requests: throughput,
    throughput,
    latencyUs: { avg: p, min: p, max: p, stddev: 0, p50: p, p90: p, p95: p, p99: p, p999: p, selected: { percentile: 99, value: p } },
    errorCount: 0,
    errors: {},
  };
}

test("stable needs 3 windows agreeing within S% on throughput and the chosen percentile", () => {
  assert.equal(isStable([w(100, 50), w(100, 50)], 10), false, "two windows are not enough");
  assert.equal(isStable([w(100, 50), w(105, 52), w(109, 54)], 10), true);
  assert.equal(isStable([w(100, 50), w(105, 52), w(111, 54)], 10), false, "throughput spread 11%");
  assert.equal(isStable([w(100, 50), w(105, 52), w(109, 56)], 10), false, "latency spread 12%");
  assert.equal(isStable([w(1, 1), w(100, 50), w(105, 52), w(109, 54)], 10), true, "only the last 3 count");
  assert.equal(isStable([w(0, 50), w(0, 50), w(0, 50)], 10), false, "zero throughput is never stable");
});

test("window statistics: counts, throughput with batch size, percentiles in microseconds, errors by code", async () => {
  await initHistograms();
  const win = new Window(0);
  for (let i = 1; i <= 100; i++) win.recordSuccess(i / 1000); // 1..100 us
  win.recordError(Object.assign(new Error("gone"), { code: "unavailable" }));
  win.recordError(Object.assign(new Error("gone again"), { code: "unavailable" }));
  win.recordError(new TypeError("bad"));
  win.close(500);
  const s = windowStats(win, win.durationMs, 4, 99);
  assert.equal(s.requests, 100);
  assert.equal(s.throughput, 800, "100 requests x batch 4 in 0.5 s");
  assert.equal(win.hist.totalCount, 100);
  assert.equal(s.latencyUs.min, 1);
  assert.equal(s.latencyUs.max, 100);
  assert.equal(s.latencyUs.p50, 50);
  assert.equal(s.latencyUs.p99, 99);
  assert.equal(s.latencyUs.selected.value, 99);
  assert.equal(windowStats(win, win.durationMs, 4, "avg").latencyUs.selected.value, 50.5, "avg of 1..100 us");
  assert.equal(s.errorCount, 3);
  assert.deepEqual(s.errors, { unavailable: 2, TypeError: 1 });
  assert.equal(win.errorMessages.get("unavailable"), "gone");
  assert.equal(errorCode("x"), "unknown");
  win.destroy();
});

test("measurement settings reject values the sweep cannot use", () => {
  assert.deepEqual(measurementSettings({}), {
    warmupMs: 1000,
    windowMs: 2000,
    measurementMode: "time_windows",
    measurementRequestCount: 50,
    maxTrials: 10,
    stabilityPercentage: 10,
    stabilityWindows: 3,
    percentile: "avg",
    latencyThresholdMs: null,
  });
  assert.equal(measurementSettings({ percentile: 99.9 }).percentile, 99.9);
  assert.throws(() => measurementSettings({ maxTrials: 2 }), /maxTrials must be an integer >= 3/);
  assert.throws(() => measurementSettings({ percentile: 100 }), /percentile must be between 0 and 100/);
  assert.throws(() => measurementSettings({ windowMs: 0 }), /windowMs/);
});
