// The --csv report in perf_analyzer's layout (its `-f` file): same column names, same order, microseconds.
// Rewritten whole (atomically) after every level, so an interrupted or failed sweep keeps what it measured.
import { renameSync, writeFileSync } from "node:fs";
import type { BenchResult } from "../bench.ts";
import type { LevelResult } from "../load/level.ts";

/** perf_analyzer's columns after the first one ("Concurrency", or "Request Rate" in the open loop). */
export const PERF_ANALYZER_COLUMNS = [
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
] as const;

/** The header line's cells; an instance sweep adds a trailing "Instances" column (perf_analyzer has none). */
export function csvHeader(result: Pick<BenchResult, "settings">): string[] {
  const first = result.settings.mode === "concurrency" ? "Concurrency" : "Request Rate";
  return [first, ...PERF_ANALYZER_COLUMNS, ...(result.settings.instances !== null ? ["Instances"] : [])];
}

const us = (v: number) => String(Math.round(v));

/**
 * One level's cells. Latencies follow perf_analyzer's definition, from the actual send (in the open loop the
 * corrected latencies from the scheduled time are in the table and the JSON). Client Send and Client Recv
 * are empty: the client does not time sending and receiving apart from waiting, so that time is inside
 * Network+Server Send/Recv. Server columns are empty when the server gave no statistics.
 */
export function csvRow(level: LevelResult, result: Pick<BenchResult, "settings">): string[] {
  const latency = level.openLoop?.latencyFromSendUs ?? level.latencyUs;
  const s = level.server;
  const compute = s ? s.queueUs + s.computeInputUs + s.computeInferUs + s.computeOutputUs : 0;
  const cells = [
    String(level.load),
    String(level.throughput),
    "",
    s ? us(Math.max(0, latency.avg - compute)) : "",
    s ? us(s.queueUs) : "",
    s ? us(s.computeInputUs) : "",
    s ? us(s.computeInferUs) : "",
    s ? us(s.computeOutputUs) : "",
    "",
    us(latency.p50),
    us(latency.p90),
    us(latency.p95),
    us(latency.p99),
  ];
  if (result.settings.instances !== null) cells.push(level.instances == null ? "" : String(level.instances));
  return cells;
}

function quote(cell: string): string {
  return /[",\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

/** Header plus one row per level in load order; levels where every request failed have no row (they are in the JSON). */
export function formatCsv(result: BenchResult): string {
  const lines = [csvHeader(result), ...result.levels.filter((l) => l.requests > 0).map((l) => csvRow(l, result))];
  return lines.map((cells) => cells.map(quote).join(",")).join("\n") + "\n";
}

/** Writes atomically (temporary file, then rename): a reader never sees half a report. */
export function writeCsvReport(file: string, result: BenchResult): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, formatCsv(result));
  renameSync(tmp, file);
}
