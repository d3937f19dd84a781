// --arrow FILE: every measurement window as one row of an Arrow IPC file, for notebooks and dataframes
// (pandas.read_feather, polars.read_ipc, apache-arrow's tableFromIPC). Rewritten whole after every level.
import { renameSync, writeFileSync } from "node:fs";
import type { BenchResult } from "../bench.ts";

type Arrow = typeof import("apache-arrow");

/** Column names in order; latencies in microseconds (from the scheduled time in an open loop). */
export const ARROW_COLUMNS = [
  "level", "mode", "load", "instances", "model", "window", "merged", "stable", "duration_ms", "requests", "throughput",
  "errors", "latency_avg_us", "latency_min_us", "latency_p50_us", "latency_p90_us", "latency_p95_us", "latency_p99_us",
  "latency_max_us", "sent", "achieved_rate", "late", "send_latency_p99_us",
] as const;

/**
 * One row per window per level (multi-model levels: the total's windows, model "*"; one row per model with
 * window -1 holds each model's merged numbers). `merged` marks the windows the level's numbers merge.
 */
export function arrowTable(arrow: Arrow, result: BenchResult) {
  const cols: Record<string, (number | string | boolean | null)[]> = Object.fromEntries(ARROW_COLUMNS.map((c) => [c, []]));
  const push = (row: Record<(typeof ARROW_COLUMNS)[number], number | string | boolean | null>) => {
    for (const c of ARROW_COLUMNS) cols[c]!.push(row[c]);
  };
  for (const [li, level] of result.levels.entries()) {
    const firstMerged = level.windows.length - level.mergedWindows;
    for (const [wi, w] of level.windows.entries())
      push({
        level: li, mode: level.mode, load: level.load, instances: level.instances ?? null, model: level.models ? "*" : result.model.name,
        window: wi, merged: wi >= firstMerged, stable: level.stable, duration_ms: w.durationMs, requests: w.requests, throughput: w.throughput,
        errors: w.errorCount, latency_avg_us: w.latencyUs.avg, latency_min_us: w.latencyUs.min, latency_p50_us: w.latencyUs.p50,
        latency_p90_us: w.latencyUs.p90, latency_p95_us: w.latencyUs.p95, latency_p99_us: w.latencyUs.p99, latency_max_us: w.latencyUs.max,
        sent: w.openLoop?.sent ?? null, achieved_rate: w.openLoop?.achievedRate ?? null, late: w.openLoop?.late ?? null,
        send_latency_p99_us: w.openLoop?.latencyFromSendUs.p99 ?? null,
      });
    for (const m of level.models ?? [])
      push({
        level: li, mode: level.mode, load: m.load, instances: level.instances ?? null, model: m.model, window: -1, merged: true, stable: level.stable,
        duration_ms: m.durationMs, requests: m.requests, throughput: m.throughput, errors: m.errorCount, latency_avg_us: m.latencyUs.avg,
        latency_min_us: m.latencyUs.min, latency_p50_us: m.latencyUs.p50, latency_p90_us: m.latencyUs.p90, latency_p95_us: m.latencyUs.p95,
        latency_p99_us: m.latencyUs.p99, latency_max_us: m.latencyUs.max, sent: m.openLoop?.sent ?? null, achieved_rate: m.openLoop?.achievedRate ?? null,
        late: m.openLoop?.late ?? null, send_latency_p99_us: m.openLoop?.latencyFromSendUs.p99 ?? null,
      });
  }
  const { vectorFromArray, Table, Float64, Int32, Utf8, Bool } = arrow;
  const types: Record<string, InstanceType<typeof Float64> | InstanceType<typeof Int32> | InstanceType<typeof Utf8> | InstanceType<typeof Bool>> = {};
  for (const c of ARROW_COLUMNS)
    types[c] = c === "mode" || c === "model" ? new Utf8() : c === "merged" || c === "stable" ? new Bool() : c === "level" || c === "window" ? new Int32() : new Float64();
  return new Table(Object.fromEntries(ARROW_COLUMNS.map((c) => [c, vectorFromArray(cols[c]!, types[c]!)])));
}

/** Writes atomically (temporary file, then rename). */
export async function writeArrowReport(file: string, result: BenchResult): Promise<void> {
  const arrow = await import("apache-arrow");
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, arrow.tableToIPC(arrowTable(arrow, result), "file"));
  renameSync(tmp, file);
}
