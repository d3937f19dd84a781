// `iaas bench --arrow FILE` (one row per window, read back with apache-arrow) and `--plot DIR` (SVG charts and
// their PNG renderings), including the throughput-vs-instances chart after an instance sweep.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { tableFromIPC } from "apache-arrow";
import { startServer, DEFAULT_MODEL_REPOSITORY } from "@iaas/server-native";
import { iaas, tempDir } from "./support/cli-process.ts";
import { lineChartSvg, niceTicks } from "../src/report/svg-chart.ts";
import { svgToPng } from "../src/report/plots.ts";

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server;
before(async () => {
  server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, modelRepository: DEFAULT_MODEL_REPOSITORY });
});
after(() => server.close());

const SHORT = ["--warmup-ms", "0", "--measurement-interval", "250", "--max-trials", "3"];

function pngSize(png: Buffer): { width: number; height: number } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG signature");
  assert.equal(png.subarray(12, 16).toString("latin1"), "IHDR");
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

test("chart helpers: nice ticks cover the range; the SVG has one polyline per series; resvg renders it at 2x", async () => {
  assert.deepEqual(niceTicks(0, 980), [0, 200, 400, 600, 800, 1000]);
  assert.deepEqual(niceTicks(1, 64), [0, 20, 40, 60, 80]);
  const svg = lineChartSvg({ title: "t <&>", xLabel: "x", yLabel: "y", series: [{ name: "a", points: [[1, 2], [2, 4]] }, { name: "b", points: [[1, 1], [2, 3]] }] });
  assert.equal(svg.match(/<polyline class="series"/g)?.length, 2);
  assert.match(svg, /t &lt;&amp;&gt;/);
  const { width, height } = pngSize(await svgToPng(svg));
  assert.deepEqual([width, height], [1440, 880]);
});

test("--arrow: one row per window, merged windows marked; --plot: SVG and PNG per chart", async () => {
  const dir = tempDir("iaas-out-");
  const arrowFile = join(dir, "windows.arrow");
  const plots = join(dir, "plots");
  const json = join(dir, "r.json");
  const r = await iaas(["bench", "-u", server.httpUrl, "-c", "1..2", "--arrow", arrowFile, "--plot", plots, "--json", json, ...SHORT]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(readFileSync(json, "utf8"));
  const table = tableFromIPC(readFileSync(arrowFile));
  const windows = result.levels.reduce((n: number, l: { windows: unknown[] }) => n + l.windows.length, 0);
  assert.equal(table.numRows, windows);
  const rows = table.toArray().map((row) => row.toJSON());
  for (const [li, level] of result.levels.entries()) {
    const mine = rows.filter((row) => row["level"] === li);
    assert.equal(mine.length, level.windows.length);
    assert.deepEqual(mine.map((row) => row["throughput"]), level.windows.map((w: { throughput: number }) => w.throughput));
    assert.deepEqual(mine.map((row) => row["latency_p99_us"]), level.windows.map((w: { latencyUs: { p99: number } }) => w.latencyUs.p99));
    assert.equal(mine.filter((row) => row["merged"]).length, level.mergedWindows);
    assert.ok(mine.every((row) => row["load"] === level.load && row["mode"] === "concurrency" && row["model"] === "simple"));
  }
  assert.deepEqual(readdirSync(plots).sort(), ["latency-vs-throughput.png", "latency-vs-throughput.svg", "throughput-vs-load.png", "throughput-vs-load.svg"]);
  const svg = readFileSync(join(plots, "throughput-vs-load.svg"), "utf8");
  // One marker per level, at the level's load.
  assert.equal(svg.match(/<circle /g)?.length, result.levels.length);
  assert.match(svg, /throughput vs load/);
  const lat = readFileSync(join(plots, "latency-vs-throughput.svg"), "utf8");
  assert.equal(lat.match(/<polyline class="series"/g)?.length, 4, "p50 p90 p95 p99");
  const { width } = pngSize(readFileSync(join(plots, "throughput-vs-load.png")));
  assert.equal(width, 1440);
});

test("--plot after an instance sweep adds throughput-vs-instances with one point per count", async () => {
  const dir = tempDir("iaas-plot-");
  const plots = join(dir, "plots");
  const r = await iaas(["bench", "-u", server.httpUrl, "-m", "simple", "--instances", "1..2:1", "-c", "2", "--plot", plots, ...SHORT]);
  assert.equal(r.code, 0, r.stderr);
  const svg = readFileSync(join(plots, "throughput-vs-instances.svg"), "utf8");
  assert.equal(svg.match(/<circle /g)?.length, 2);
  pngSize(readFileSync(join(plots, "throughput-vs-instances.png")));
  const load = readFileSync(join(plots, "throughput-vs-load.svg"), "utf8");
  assert.match(load, /1 instance\(s\)/);
  assert.match(load, /2 instance\(s\)/);
});
