// `iaas bench --csv/--json` spawned against `iaas serve`: perf_analyzer's CSV columns, the JSON schema with
// windows and decodable histograms, and files that keep the finished levels when the server dies mid-sweep.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { decodeHistogram } from "../src/load/histogram.ts";
import { iaas, parseCsv, SHORT, startServe, tempDir, type Serve } from "./support/cli-process.ts";

/** perf_analyzer's CSV header after the first column, in order (its report_writer). */
const PA_COLUMNS = [
  "Inferences/Second",
  "Client Send",
  "Network+Server Send/Recv",
  "Server Queue",
  "Server Compute Input",
  "Server Compute Infer",
  "Server Compute Output",
  "Client Recv",
  "p50 latency",
  "p90 latency",
  "p95 latency",
  "p99 latency",
];

const dir = tempDir("iaas-results-test-");
let serve: Serve;

before(async () => {
  serve = await startServe();
});
after(async () => {
  await serve.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("closed loop: CSV has perf_analyzer's header and one row per level in load order; JSON has windows and histograms", async () => {
  const csv = join(dir, "closed.csv");
  const json = join(dir, "closed.json");
  const r = await iaas(["bench", "-u", serve.grpcUrl, "-i", "grpc", "-c", "1..2", ...SHORT, "--csv", csv, "--json", json]);
  assert.equal(r.code, 0, r.stderr);

  const rows = parseCsv(readFileSync(csv, "utf8"));
  assert.deepEqual(rows[0], ["Concurrency", ...PA_COLUMNS]);
  assert.equal(rows.length, 3);
  assert.deepEqual(rows.slice(1).map((row) => row[0]), ["1", "2"], "load order");
  const report = JSON.parse(readFileSync(json, "utf8"));
  for (const [i, row] of rows.slice(1).entries()) {
    const level = report.levels[i];
    assert.equal(row.length, 13);
    assert.equal(Number(row[1]), level.throughput);
    assert.equal(row[2], "", "Client Send is not measured apart");
    assert.equal(row[8], "", "Client Recv is not measured apart");
    for (const cell of [row[3], row[4], row[5], row[6], row[7]]) assert.match(cell!, /^\d+$/, "server columns filled from the statistics extension");
    assert.deepEqual(row.slice(9).map(Number), [level.latencyUs.p50, level.latencyUs.p90, level.latencyUs.p95, level.latencyUs.p99]);
    const queue = Number(row[4]);
    assert.equal(queue, Math.round(level.server.queueUs));
  }

  assert.equal(report.schemaVersion, 2);
  assert.equal(report.settings.mode, "concurrency");
  assert.deepEqual(report.settings.loads, [1, 2]);
  assert.equal(report.settings.stabilityWindows, 3);
  assert.equal(report.settings.measurementMode, "time_windows");
  assert.deepEqual(report.notes, []);
  for (const level of report.levels) {
    assert.equal(level.mode, "concurrency");
    assert.equal(level.load, level.concurrency);
    assert.equal(level.instances, 1, "instance count read from the model's config");
    assert.equal(level.windows.length, 3);
    assert.equal(level.mergedWindows, 3);
    for (const w of level.windows) {
      assert.ok(w.durationMs > 250 && w.requests > 0);
      assert.ok(w.server && w.server.requests > 0, "per-window server breakdown");
    }
    assert.ok(level.latencyUs.p999 >= level.latencyUs.p99);
    const s = level.server;
    for (const k of ["requestUs", "queueUs", "computeInputUs", "computeInferUs", "computeOutputUs", "clientOverheadUs"]) assert.equal(typeof s[k], "number", k);
    assert.ok(s.requests > 0 && s.requestUs > 0);
    assert.match(level.histograms.encoding, /HdrHistogram/);
    const h = decodeHistogram(level.histograms.latencyUs);
    assert.equal(h.totalCount, level.requests, "merged histogram = the merged windows' requests");
    assert.equal(h.getValueAtPercentile(99), level.latencyUs.p99);
    // The encoding keeps 3 significant digits: the largest value comes back within 0.1%.
    assert.ok(Math.abs(h.maxValue - level.latencyUs.max) <= level.latencyUs.max * 0.001 + 1, `${h.maxValue} vs ${level.latencyUs.max}`);
  }
});

test("request rate: CSV's first column is Request Rate; the table shows target, achieved rate and late share", async () => {
  const csv = join(dir, "rate.csv");
  const json = join(dir, "rate.json");
  const r = await iaas(["bench", "-u", serve.httpUrl, "--request-rate", "100..200:100", "--distribution", "poisson", ...SHORT, "--csv", csv, "--json", json]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.match(lines[0]!, /open loop, poisson arrivals, at most 512 outstanding, latency from the scheduled send/);
  assert.match(lines[1]!, /^\s+Rate\/s\s+Sent\/s\s+Late %\s+Infer\/s\s+p50 us/);
  assert.match(lines[2]!, /^\s+100\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d/);

  const rows = parseCsv(readFileSync(csv, "utf8"));
  assert.deepEqual(rows[0], ["Request Rate", ...PA_COLUMNS]);
  assert.deepEqual(rows.slice(1).map((row) => row[0]), ["100", "200"]);
  const report = JSON.parse(readFileSync(json, "utf8"));
  assert.equal(report.settings.mode, "request_rate");
  assert.equal(report.settings.distribution, "poisson");
  for (const [i, level] of report.levels.entries()) {
    assert.equal(level.requestRate, [100, 200][i]);
    assert.ok(level.openLoop.achievedRate > 0);
    // CSV latencies follow perf_analyzer: from the actual send.
    assert.equal(Number(rows[i + 1]![12]), level.openLoop.latencyFromSendUs.p99);
    assert.equal(decodeHistogram(level.histograms.latencyFromSendUs).totalCount, level.requests);
  }
});

test("count windows end after the given number of requests", async () => {
  const json = join(dir, "count.json");
  const r = await iaas(["bench", "-u", serve.httpUrl, "-c", "2", "--measurement-mode", "count_windows", "--measurement-request-count", "40", "--warmup-ms", "50", "--max-trials", "3", "--json", json]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(readFileSync(json, "utf8"));
  assert.match(r.stdout, /windows of 40 requests/);
  for (const w of report.levels[0].windows) {
    // A window closes on the turn its 40th response arrives; the other request in flight may land too.
    assert.ok(w.requests + w.errorCount >= 40 && w.requests + w.errorCount <= 42, `${w.requests} requests in a count window`);
  }
});

test("a server killed mid-sweep: exit 1, and the CSV and JSON keep the levels measured before", async () => {
  const own = await startServe();
  const csv = join(dir, "killed.csv");
  const json = join(dir, "killed.json");
  let killed = false;
  const r = await iaas(["bench", "-u", own.httpUrl, "-c", "1..64", ...SHORT, "--csv", csv, "--json", json], {
    onStdout: (out) => {
      // The first level's row is out: kill the server while the second level runs.
      if (!killed && /\n\s+1\s+\d+\.\d/.test(out)) {
        killed = true;
        void own.stop("SIGKILL");
      }
    },
  });
  await own.stop();
  assert.ok(killed, r.stdout);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /every request failed at concurrency \d+ \(.*\)/);

  const report = JSON.parse(readFileSync(json, "utf8"));
  assert.equal(report.complete, false);
  assert.ok(report.levels.length >= 2 && report.levels.length < 7, `${report.levels.length} levels`);
  assert.equal(report.levels[0].load, 1);
  assert.equal(report.levels[0].errorCount, 0);
  assert.ok(report.levels[0].requests > 0);
  const failed = report.levels[report.levels.length - 1];
  assert.equal(failed.requests, 0, "the failed level is recorded with its errors");
  assert.ok(failed.errorCount > 0);
  assert.equal(failed.server, null);
  assert.ok(failed.serverNote);

  const rows = parseCsv(readFileSync(csv, "utf8"));
  assert.deepEqual(rows[0], ["Concurrency", ...PA_COLUMNS]);
  assert.equal(rows[1]![0], "1", "the first level is kept");
  assert.equal(rows.length - 1, report.levels.filter((l: { requests: number }) => l.requests > 0).length, "a CSV row per level that measured anything");
});
