// The bench table: one header, then one aligned row per level as it finishes (so a long sweep shows progress).
// Columns depend on the sweep: an open loop adds its achieved rate and late share, an instance sweep its count.
import type { BenchResult } from "../bench.ts";
import type { LevelResult } from "../load/level.ts";

/** What decides the columns; without it the table is the closed-loop one. */
export type TableShape = Pick<BenchResult, "settings">;

interface Column {
  title: string;
  width: number;
  value: (l: LevelResult) => string;
  when?: (shape: TableShape) => boolean;
}

const int = (v: number) => String(Math.round(v));
const fixed1 = (v: number) => v.toFixed(1);
const open = (s: TableShape) => s.settings.mode !== "concurrency";

const COLUMNS: Column[] = [
  { title: "Instances", width: 9, value: (l) => (l.instances == null ? "-" : String(l.instances)), when: (s) => s.settings.instances !== null },
  { title: "Concurrency", width: 11, value: (l) => String(l.load), when: (s) => !open(s) },
  { title: "Rate/s", width: 9, value: (l) => String(l.load), when: open },
  { title: "Sent/s", width: 9, value: (l) => fixed1(l.openLoop?.sentRate ?? l.openLoop?.achievedRate ?? 0), when: open },
  { title: "Late %", width: 7, value: (l) => ((l.openLoop?.lateShare ?? 0) * 100).toFixed(1), when: open },
  { title: "Infer/s", width: 10, value: (l) => fixed1(l.throughput) },
  { title: "p50 us", width: 9, value: (l) => int(l.latencyUs.p50) },
  { title: "p90 us", width: 9, value: (l) => int(l.latencyUs.p90) },
  { title: "p95 us", width: 9, value: (l) => int(l.latencyUs.p95) },
  { title: "p99 us", width: 9, value: (l) => int(l.latencyUs.p99) },
  { title: "p99.9 us", width: 9, value: (l) => int(l.latencyUs.p999) },
  { title: "avg us", width: 9, value: (l) => fixed1(l.latencyUs.avg) },
  { title: "min us", width: 8, value: (l) => int(l.latencyUs.min) },
  { title: "max us", width: 9, value: (l) => int(l.latencyUs.max) },
  { title: "Server us", width: 9, value: (l) => (l.server ? fixed1(l.server.requestUs) : "-") },
  { title: "Overhead us", width: 11, value: (l) => (l.server ? fixed1(l.server.clientOverheadUs) : "-") },
  { title: "Requests", width: 9, value: (l) => String(l.requests) },
  { title: "Errors", width: 7, value: (l) => String(l.errorCount) },
  { title: "Stable", width: 9, value: (l) => (l.stable ? "yes" : "unstable") },
];

const CLOSED: TableShape = {
  settings: { mode: "concurrency", instances: null } as TableShape["settings"],
};

function columns(shape: TableShape): Column[] {
  return COLUMNS.filter((c) => c.when === undefined || c.when(shape));
}

export function formatTableHeader(shape: TableShape = CLOSED): string {
  return columns(shape)
    .map((c) => c.title.padStart(c.width))
    .join("  ");
}

/** One row; error details (code x count: first message) follow on indented lines. */
export function formatTableRow(level: LevelResult, shape: TableShape = CLOSED): string {
  const row = columns(shape)
    .map((c) => c.value(level).padStart(c.width))
    .join("  ");
  const details = Object.entries(level.errors).map(
    ([code, n]) => `    ${code} x${n}${level.errorMessages[code] ? `: ${level.errorMessages[code]}` : ""}`,
  );
  return [row, ...details].join("\n");
}

export function formatTable(levels: readonly LevelResult[], shape: TableShape = CLOSED): string {
  return [formatTableHeader(shape), ...levels.map((l) => formatTableRow(l, shape))].join("\n");
}

function describeLoad(result: BenchResult): string {
  const st = result.settings;
  if (st.mode === "concurrency") return "closed loop";
  const cap = `at most ${st.maxOutstanding} outstanding`;
  if (st.mode === "request_rate") return `open loop, ${st.distribution} arrivals, ${cap}, latency from the scheduled send`;
  return `open loop replaying ${st.requestIntervals?.count} intervals${st.requestIntervals?.file ? ` from ${st.requestIntervals.file}` : ""}, ${cap}, latency from the scheduled send`;
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
  const windows =
    st.measurementMode === "count_windows" ? `windows of ${st.measurementRequestCount} requests` : `windows ${st.windowMs} ms`;
  return (
    `iaas bench: ${server}, ${st.models ? `models ${st.models.map((x) => `${x.name}:${x.weight}`).join(", ")} (inputs of ${m.name})` : `model ${m.name}`}${m.version ? ` v${m.version}` : ""}${st.workers !== "auto" && st.workers > 1 ? `, ${st.workers} worker threads` : ""}, batch ${m.batchSize}, inputs ${shapes}; ${describeLoad(result)}; ` +
    `warm-up ${st.warmupMs} ms, ${windows} x <=${st.maxTrials}, stable when the last ${st.stabilityWindows} agree within ${st.stabilityPercentage}% on throughput and ${st.percentile === "avg" ? "average latency" : `p${st.percentile} latency`}`
  );
}
