// --plot DIR: charts of a bench result as SVG and PNG (the SVG rasterised by resvg, a Rust renderer shipped
// as prebuilt npm packages, with the system's fonts):
//   throughput-vs-load      inferences/s against concurrency or request rate (one line per instance count)
//   latency-vs-throughput   p50/p90/p95/p99 latency against throughput (the "hockey stick")
//   throughput-vs-instances best throughput per instance count (only after an instance sweep)
// Rewritten after every level, like the other reports.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BenchResult } from "../bench.ts";
import { lineChartSvg, type ChartOptions, type Series } from "./svg-chart.ts";

export interface Chart {
  name: string;
  options: ChartOptions;
}

function loadLabel(result: BenchResult): string {
  return result.settings.mode === "concurrency" ? "concurrency (requests in flight)" : "target request rate (requests/s)";
}

/** The charts for a result; throughput-vs-instances only when an instance sweep measured more than one count. */
export function benchCharts(result: BenchResult): Chart[] {
  const levels = result.levels.filter((l) => l.requests > 0);
  const byInstances = new Map<string, typeof levels>();
  for (const l of levels) {
    const key = l.instances == null ? "" : String(l.instances);
    byInstances.set(key, [...(byInstances.get(key) ?? []), l]);
  }
  const sweep = result.settings.instances !== null;
  const name = (key: string) => (sweep && key !== "" ? `${key} instance(s)` : "throughput");
  const charts: Chart[] = [
    {
      name: "throughput-vs-load",
      options: {
        title: `${result.model.name}: throughput vs load`,
        xLabel: loadLabel(result),
        yLabel: "throughput (inferences/s)",
        series: [...byInstances].map(([k, ls]): Series => ({ name: name(k), points: ls.map((l) => [l.load, l.throughput] as const) })),
      },
    },
  ];
  const pcts = ["p50", "p90", "p95", "p99"] as const;
  const ordered = [...levels].sort((a, b) => a.throughput - b.throughput);
  charts.push({
    name: "latency-vs-throughput",
    options: {
      title: `${result.model.name}: latency vs throughput`,
      xLabel: "throughput (inferences/s)",
      yLabel: result.settings.mode === "concurrency" ? "latency (ms)" : "latency from the scheduled send (ms)",
      series: pcts.map((p): Series => ({ name: p, points: ordered.map((l) => [l.throughput, l.latencyUs[p] / 1000] as const) })),
    },
  });
  if (sweep && byInstances.size > 1) {
    const best = [...byInstances]
      .filter(([k]) => k !== "")
      .map(([k, ls]) => [Number(k), Math.max(...ls.map((l) => l.throughput))] as const)
      .sort((a, b) => a[0] - b[0]);
    charts.push({
      name: "throughput-vs-instances",
      options: {
        title: `${result.model.name}: throughput vs instances`,
        xLabel: "instances (instance_group count)",
        yLabel: "best throughput (inferences/s)",
        series: [{ name: "best over the load sweep", points: best }],
      },
    });
  }
  return charts;
}

function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** SVG to PNG at `scale` x the SVG size. */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  const { Resvg } = await import("@resvg/resvg-js");
  const r = new Resvg(svg, { fitTo: { mode: "zoom", value: scale }, font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" }, background: "white" });
  return r.render().asPng();
}

/**
 * Writes NAME.svg (and NAME.png with `png`) for each chart into `dir` (created); returns the file names.
 * Rasterising is synchronous and takes tens of ms per chart: `iaas bench` writes the SVGs after each level
 * and the PNGs once at the end, so that no render stalls the load generator's event loop mid-measurement.
 */
export async function writePlots(dir: string, result: BenchResult, png = true): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const chart of benchCharts(result)) {
    const svg = lineChartSvg(chart.options);
    writeAtomic(join(dir, `${chart.name}.svg`), svg);
    written.push(`${chart.name}.svg`);
    if (png) {
      writeAtomic(join(dir, `${chart.name}.png`), await svgToPng(svg));
      written.push(`${chart.name}.png`);
    }
  }
  return written;
}
