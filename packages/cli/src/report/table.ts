// The bench table: one header, then one aligned row per level as it finishes (so a long sweep shows progress).
import type { BenchResult } from "../bench.ts";
import type { LevelResult } from "../load/level.ts";

interface Column {
  title: string;
  width: number;
  value: (l: LevelResult) => string;
}

const int = (v: number) => String(Math.round(v));
const fixed1 = (v: number) => v.toFixed(1);

const COLUMNS: Column[] = [
  { title: "Concurrency", width: 11, value: (l) => String(l.concurrency) },
  { title: "Infer/s", width: 10, value: (l) => fixed1(l.throughput) },
  { title: "p50 us", width: 9, value: (l) => int(l.latencyUs.p50) },
  { title: "p90 us", width: 9, value: (l) => int(l.latencyUs.p90) },
  { title: "p95 us", width: 9, value: (l) => int(l.latencyUs.p95) },
  { title: "p99 us", width: 9, value: (l) => int(l.latencyUs.p99) },
  { title: "avg us", width: 9, value: (l) => fixed1(l.latencyUs.avg) },
  { title: "min us", width: 8, value: (l) => int(l.latencyUs.min) },
  { title: "max us", width: 9, value: (l) => int(l.latencyUs.max) },
  { title: "Requests", width: 9, value: (l) => String(l.requests) },
  { title: "Errors", width: 7, value: (l) => String(l.errorCount) },
  { title: "Stable", width: 9, value: (l) => (l.stable ? "yes" : "unstable") },
];

export function formatTableHeader(): string {
  return COLUMNS.map((c) => c.title.padStart(c.width)).join("  ");
}

/** One row; error details (code x count: first message) follow on indented lines. */
export function formatTableRow(level: LevelResult): string {
  const row = COLUMNS.map((c) => c.value(level).padStart(c.width)).join("  ");
  const details = Object.entries(level.errors).map(
    ([code, n]) => `    ${code} x${n}${level.errorMessages[code] ? `: ${level.errorMessages[code]}` : ""}`,
  );
  return [row, ...details].join("\n");
}

export function formatTable(levels: readonly LevelResult[]): string {
  return [formatTableHeader(), ...levels.map(formatTableRow)].join("\n");
}

/** The one-line header: where, how and what is measured. */
export function formatBenchHeader(result: BenchResult): string {
  const s = result.server;
  const m = result.model;
  const server = s.embedded
    ? `embedded server ${s.url} (${s.protocol}${s.backends?.length ? `, backends ${s.backends.join(",")}` : ""})`
    : `${s.url} (${s.protocol})`;
  const shapes = m.inputs.map((i) => `${i.name} ${i.datatype}[${i.shape.join(",")}]`).join(", ");
  const st = result.settings;
  return (
    `iaas bench: ${server}, model ${m.name}${m.version ? ` v${m.version}` : ""}, batch ${m.batchSize}, inputs ${shapes}; ` +
    `warm-up ${st.warmupMs} ms, windows ${st.windowMs} ms x <=${st.maxTrials}, stable within ${st.stabilityPercentage}% on throughput and ${st.percentile === "avg" ? "average latency" : `p${st.percentile} latency`}`
  );
}
