// The CI gate: `iaas compare` between bench reports (exit 0 / 3 / 4) and `iaas bench --fail-if` (exit 3).
// One real sweep makes the baseline; the "current" reports are that report with numbers changed, so each
// verdict is known in advance.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, DEFAULT_MODEL_REPOSITORY } from "@iaas/server-native";
import type { BenchResult } from "../src/bench.ts";
import { compareReports, CompareInputError, parseReport } from "../src/gate/compare.ts";
import { iaas, SHORT, tempDir } from "./support/cli-process.ts";

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server;
const dir = tempDir("iaas-compare-test-");
const baselineFile = join(dir, "baseline.json");
let baseline: BenchResult;

before(async () => {
  server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, modelRepository: DEFAULT_MODEL_REPOSITORY });
  const r = await iaas(["bench", "-u", server.httpUrl, "-c", "1..2", ...SHORT, "--json", baselineFile]);
  assert.equal(r.code, 0, r.stderr);
  baseline = JSON.parse(readFileSync(baselineFile, "utf8"));
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The baseline with `change` applied, written to a file. */
function variant(name: string, change: (report: BenchResult) => void): string {
  const copy = structuredClone(baseline);
  change(copy);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(copy));
  return file;
}

test("identical reports pass with exit 0 and a table of matched levels", async () => {
  const r = await iaas(["compare", baselineFile, baselineFile]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.split("\n");
  assert.match(lines[0]!, /allowed throughput drop 10\.0%, p99 rise 15\.0%/, "defaults");
  assert.match(lines[1]!, /Instances\s+Mode\s+Load\s+Base infer\/s\s+Cur infer\/s\s+Change\s+Base p99 us\s+Cur p99 us\s+Change\s+Verdict/);
  assert.match(r.stdout, /\n\s+1\s+concurrency\s+1\s+[\d.]+\s+[\d.]+\s+\+0\.0%.*\+0\.0%\s+ok\n/);
  assert.match(r.stdout, /result: no regression in 2 matched level\(s\)/);
});

test("a throughput drop or p99 rise beyond the limits exits 3 and names the level and the change", async () => {
  const slower = variant("slower", (r) => {
    r.levels[1]!.throughput = r.levels[1]!.throughput * 0.8; // -20%
  });
  let r = await iaas(["compare", baselineFile, slower, "--max-throughput-drop", "10%", "--max-p99-rise", "15%"]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /\n\s+1\s+concurrency\s+2\s.*-20\.0%.*REGRESSION: throughput -20\.0% \(allowed -10\.0%\)/);
  assert.match(r.stdout, /\n\s+1\s+concurrency\s+1\s.*\s+ok\n/, "the other level is fine");

  r = await iaas(["compare", baselineFile, slower, "--max-throughput-drop", "25"]);
  assert.equal(r.code, 0, "within a 25% allowance");

  const laggier = variant("laggier", (rep) => {
    rep.levels[0]!.latencyUs.p99 = rep.levels[0]!.latencyUs.p99 * 2; // exact in binary floating point
  });
  r = await iaas(["compare", baselineFile, laggier]);
  assert.equal(r.code, 3);
  assert.match(r.stdout, /REGRESSION: p99 \+100\.0% \(allowed \+15\.0%\)/);

  // Faster and quicker is never a regression.
  const better = variant("better", (rep) => {
    for (const l of rep.levels) {
      l.throughput *= 2;
      l.latencyUs.p99 = Math.round(l.latencyUs.p99 / 2);
    }
  });
  r = await iaas(["compare", baselineFile, better]);
  assert.equal(r.code, 0, r.stdout);
});

test("unreadable, foreign or mismatched input exits 4", async () => {
  let r = await iaas(["compare", baselineFile, join(dir, "missing.json")]);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /iaas compare: error: cannot read .*missing\.json: no such file/);

  const otherModel = variant("other-model", (rep) => (rep.model.name = "dense_mlp"));
  r = await iaas(["compare", baselineFile, otherModel]);
  assert.equal(r.code, 4);
  assert.match(r.stdout, /mismatch: model differs: baseline "simple", current "dense_mlp"/);

  const shorter = variant("shorter", (rep) => rep.levels.pop());
  r = await iaas(["compare", baselineFile, shorter]);
  assert.equal(r.code, 4, "a baseline level the current run lacks cannot be gated");
  assert.match(r.stdout, /concurrency\s+2\s.*MISSING in current/);

  // The other way round the extra level is only reported.
  r = await iaas(["compare", shorter, baselineFile]);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /concurrency\s+2\s.*new \(not gated\)/);

  r = await iaas(["compare", baselineFile]);
  assert.equal(r.code, 2, "missing argument is a usage error");
});

test("input checks name the file and what is wrong (CompareInputError, exit 4 in the CLI)", () => {
  const bad = (text: string) => () => parseReport(text, "x.json");
  assert.throws(bad('{"tool": "iaas bench", "levels": ['), (e: unknown) => e instanceof CompareInputError && /^x\.json: not JSON/.test(e.message));
  assert.throws(bad(JSON.stringify({ results: [] })), /x\.json: not an iaas bench --json report/);
  assert.throws(bad(JSON.stringify({ ...baseline, schemaVersion: 99 })), /schema version 99 is newer than this iaas reads \(2\)/);
  const wrong = structuredClone(baseline);
  const first = wrong.levels[0] as unknown as Record<string, unknown>;
  first["throughput"] = "fast";
  assert.throws(bad(JSON.stringify(wrong)), /x\.json: levels\[0\]\.throughput: expected a number, got "fast"/);
  delete first["latencyUs"];
  assert.throws(bad(JSON.stringify(wrong)), /levels\[0\]: no latencyUs/);
  const base = parseReport(JSON.stringify(baseline), "b.json");
  const none = parseReport(JSON.stringify({ ...baseline, levels: [] }), "c.json");
  assert.deepEqual(compareReports(none, base).mismatches, ["no level in common (levels are matched by instances, mode and load)"]);
  const batch = parseReport(JSON.stringify({ ...baseline, model: { ...baseline.model, batchSize: 4 } }), "d.json");
  assert.deepEqual(compareReports(base, batch).mismatches, ["batch size differs: baseline 1, current 4"]);
});

test("levels match by (instances, mode, load); reports without a schema version are read as version 1", () => {
  const v1 = {
    tool: "iaas bench",
    model: { name: "simple", batchSize: 1 },
    server: { protocol: "http" },
    levels: [
      { concurrency: 1, throughput: 100, stable: true, latencyUs: { p99: 1000 } },
      { concurrency: 4, throughput: 300, stable: true, latencyUs: { p99: 2000 } },
    ],
  };
  const base = parseReport(JSON.stringify(v1), "v1.json");
  assert.equal(base.schemaVersion, 1);
  assert.deepEqual(base.levels.map((l) => [l.instances, l.mode, l.load]), [
    [null, "concurrency", 1],
    [null, "concurrency", 4],
  ]);
  const cur = parseReport(
    JSON.stringify({
      ...v1,
      schemaVersion: 2,
      levels: [
        { mode: "concurrency", load: 1, instances: null, throughput: 95, stable: true, latencyUs: { p99: 1100 } },
        { mode: "request_rate", load: 4, instances: null, throughput: 4, stable: true, latencyUs: { p99: 10 } },
        { mode: "concurrency", load: 4, instances: 2, throughput: 10, stable: true, latencyUs: { p99: 99_999 } },
      ],
    }),
    "v2.json",
  );
  const c = compareReports(base, cur);
  assert.deepEqual(
    c.rows.map((r) => [r.instances, r.mode, r.load, r.verdict]),
    [
      [null, "concurrency", 1, "ok"],
      [null, "concurrency", 4, "missing"],
      [null, "request_rate", 4, "new"],
      [2, "concurrency", 4, "new"],
    ],
    "a rate level and another instance count do not stand in for concurrency 4",
  );
  assert.ok(Math.abs(c.rows[0]!.throughputChange! + 0.05) < 1e-9);
  assert.ok(Math.abs(c.rows[0]!.p99Change! - 0.1) < 1e-9);
  assert.equal(c.regressions, 0);
  assert.equal(c.missing, 1);
});

test("bench --fail-if: exit 3 when a level breaches, 0 when every level passes; breaches recorded in the JSON", async () => {
  const json = join(dir, "fail-if.json");
  let r = await iaas(["bench", "-u", server.httpUrl, "-c", "1..2", ...SHORT, "--json", json, "--fail-if", "p99<60s", "--fail-if", "throughput>1000000000"]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /threshold breached at concurrency 1: throughput>1000000000 \(throughput [\d.]+ infer\/s\)/);
  assert.match(r.stderr, /--fail-if: 2 of 2 level\(s\) breached a threshold/);
  const report = JSON.parse(readFileSync(json, "utf8"));
  assert.deepEqual(report.settings.failIf, ["p99<60s", "throughput>1000000000"]);
  assert.equal(report.thresholdsPassed, false);
  for (const level of report.levels) {
    assert.equal(level.thresholdBreaches.length, 1);
    assert.equal(level.thresholdBreaches[0].expression, "throughput>1000000000");
    assert.equal(level.thresholdBreaches[0].actual, level.throughput);
  }

  r = await iaas(["bench", "-u", server.httpUrl, "-c", "1", ...SHORT, "--fail-if", "p99<60s", "--fail-if", "errors<1%"]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /breached/);

  r = await iaas(["bench", "-u", server.httpUrl, "--fail-if", "p99<<5"]);
  assert.equal(r.code, 2, "a malformed threshold is a usage error");
  assert.match(r.stderr, /invalid threshold "p99<<5"/);
});

test("help texts document the exit codes", async () => {
  const top = await iaas(["--help"]);
  assert.match(top.stdout, /3 performance gate failed/);
  assert.match(top.stdout, /4 compare input unreadable or mismatched/);
  const compare = await iaas(["compare", "--help"]);
  assert.match(compare.stdout, /Exit codes: 0 no regression, 3 at least one level regressed, 4 input unusable/);
  const bench = await iaas(["bench", "--help"]);
  assert.match(bench.stdout, /3 a --fail-if\s+threshold breached/);
});
