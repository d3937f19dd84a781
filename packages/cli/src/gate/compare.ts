// `iaas compare`: a CI gate between two `iaas bench --json` reports. Levels are matched by
// (instances, mode, load); a level regresses when its throughput dropped, or its p99 rose, by more than allowed.
import { readFileSync } from "node:fs";
import { SCHEMA_VERSION } from "../bench.ts";

/** The input cannot be compared: unreadable, not a bench report, or reports that do not match. */
export class CompareInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CompareInputError";
  }
}

/** The parts of a level the comparison reads (schema 1 reports have only `concurrency`, no mode or load). */
export interface ComparedLevel {
  mode: string;
  load: number;
  instances: number | null;
  throughput: number;
  p99: number;
  stable: boolean;
  errorCount: number;
}

export interface ComparedReport {
  file: string;
  schemaVersion: number;
  model: string;
  batchSize: number;
  protocol: string;
  interrupted: boolean;
  levels: ComparedLevel[];
}

export interface CompareOptions {
  /** Largest allowed throughput drop, as a fraction (0.1 = 10%). Default 0.1. */
  maxThroughputDrop?: number;
  /** Largest allowed p99 rise, as a fraction (0.15 = 15%). Default 0.15. */
  maxP99Rise?: number;
}

export const DEFAULT_COMPARE = { maxThroughputDrop: 0.1, maxP99Rise: 0.15 } as const;

export type Verdict = "ok" | "regression" | "missing" | "new";

export interface ComparisonRow {
  mode: string;
  load: number;
  instances: number | null;
  baseline?: ComparedLevel;
  current?: ComparedLevel;
  /** Relative changes (current / baseline - 1); undefined when a side is missing or the baseline is 0. */
  throughputChange?: number;
  p99Change?: number;
  verdict: Verdict;
  reasons: string[];
}

export interface Comparison {
  baseline: ComparedReport;
  current: ComparedReport;
  options: Required<CompareOptions>;
  rows: ComparisonRow[];
  regressions: number;
  /** Baseline levels with no counterpart in the current report: the gate cannot check them. */
  missing: number;
  /** Differences in what was measured (model, batch size) that make the comparison meaningless. */
  mismatches: string[];
  /** Differences worth knowing that do not invalidate it (protocol, unstable or interrupted runs). */
  warnings: string[];
}

function object(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function num(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new CompareInputError(`${where}: expected a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Reads and checks one report; throws CompareInputError saying what is wrong. */
export function parseReport(text: string, file: string): ComparedReport {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CompareInputError(`${file}: not JSON (${(err as Error).message})`);
  }
  const root = object(json);
  if (!root || root["tool"] !== "iaas bench" || !Array.isArray(root["levels"])) throw new CompareInputError(`${file}: not an iaas bench --json report (no "tool": "iaas bench" and "levels")`);
  const schemaVersion = root["schemaVersion"] === undefined ? 1 : num(root["schemaVersion"], `${file}: schemaVersion`);
  if (schemaVersion > SCHEMA_VERSION) throw new CompareInputError(`${file}: schema version ${schemaVersion} is newer than this iaas reads (${SCHEMA_VERSION}); update iaas`);
  const model = object(root["model"]);
  const server = object(root["server"]);
  const levels = (root["levels"] as unknown[]).map((raw, i): ComparedLevel => {
    const where = `${file}: levels[${i}]`;
    const l = object(raw);
    if (!l) throw new CompareInputError(`${where}: not an object`);
    const latency = object(l["latencyUs"]);
    if (!latency) throw new CompareInputError(`${where}: no latencyUs`);
    const mode = typeof l["mode"] === "string" ? l["mode"] : "concurrency";
    const load = l["load"] !== undefined ? num(l["load"], `${where}.load`) : num(l["concurrency"], `${where}.concurrency`);
    const instances = typeof l["instances"] === "number" ? l["instances"] : null;
    return {
      mode,
      load,
      instances,
      throughput: num(l["throughput"], `${where}.throughput`),
      p99: num(latency["p99"], `${where}.latencyUs.p99`),
      stable: l["stable"] === true,
      errorCount: typeof l["errorCount"] === "number" ? l["errorCount"] : 0,
    };
  });
  return {
    file,
    schemaVersion,
    model: typeof model?.["name"] === "string" ? model["name"] : "",
    batchSize: typeof model?.["batchSize"] === "number" ? model["batchSize"] : 1,
    protocol: typeof server?.["protocol"] === "string" ? server["protocol"] : "",
    interrupted: root["interrupted"] === true,
    levels,
  };
}

export function readReport(file: string): ComparedReport {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CompareInputError(`cannot read ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  }
  return parseReport(text, file);
}

const keyOf = (l: { mode: string; load: number; instances: number | null }) => `${l.instances ?? "-"}|${l.mode}|${l.load}`;
const pct = (v: number) => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)}%`;

export function compareReports(baseline: ComparedReport, current: ComparedReport, options: CompareOptions = {}): Comparison {
  const opts = { ...DEFAULT_COMPARE, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Required<CompareOptions>;
  for (const [name, v] of Object.entries(opts)) if (!(v >= 0)) throw new RangeError(`${name} must be a fraction >= 0, got ${v}`);
  const mismatches: string[] = [];
  const warnings: string[] = [];
  if (baseline.model !== current.model) mismatches.push(`model differs: baseline "${baseline.model}", current "${current.model}"`);
  if (baseline.batchSize !== current.batchSize) mismatches.push(`batch size differs: baseline ${baseline.batchSize}, current ${current.batchSize}`);
  if (baseline.protocol !== current.protocol) warnings.push(`protocol differs: baseline ${baseline.protocol}, current ${current.protocol}`);
  for (const r of [baseline, current]) if (r.interrupted) warnings.push(`${r.file} is from an interrupted sweep`);

  const currentByKey = new Map(current.levels.map((l) => [keyOf(l), l]));
  const seen = new Set<string>();
  const rows: ComparisonRow[] = [];
  for (const b of baseline.levels) {
    const key = keyOf(b);
    if (seen.has(key)) continue;
    seen.add(key);
    const c = currentByKey.get(key);
    const row: ComparisonRow = { mode: b.mode, load: b.load, instances: b.instances, baseline: b, verdict: "ok", reasons: [] };
    if (!c) {
      row.verdict = "missing";
      row.reasons.push("not in the current report");
      rows.push(row);
      continue;
    }
    row.current = c;
    if (b.throughput > 0) row.throughputChange = c.throughput / b.throughput - 1;
    if (b.p99 > 0) row.p99Change = c.p99 / b.p99 - 1;
    const drop = b.throughput > 0 ? 1 - c.throughput / b.throughput : 0;
    if (drop > opts.maxThroughputDrop) row.reasons.push(`throughput ${pct(-drop)} (allowed -${(opts.maxThroughputDrop * 100).toFixed(1)}%)`);
    if (row.p99Change !== undefined && row.p99Change > opts.maxP99Rise) row.reasons.push(`p99 ${pct(row.p99Change)} (allowed +${(opts.maxP99Rise * 100).toFixed(1)}%)`);
    if (row.reasons.length > 0) row.verdict = "regression";
    if (!b.stable || !c.stable) warnings.push(`${describeKey(row)}: ${!b.stable && !c.stable ? "both levels" : !b.stable ? "the baseline level" : "the current level"} unstable`);
    rows.push(row);
  }
  for (const c of current.levels) {
    const key = keyOf(c);
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push({ mode: c.mode, load: c.load, instances: c.instances, current: c, verdict: "new", reasons: ["not in the baseline"] });
  }
  if (!rows.some((r) => r.baseline && r.current)) mismatches.push("no level in common (levels are matched by instances, mode and load)");
  return {
    baseline,
    current,
    options: opts,
    rows,
    regressions: rows.filter((r) => r.verdict === "regression").length,
    missing: rows.filter((r) => r.verdict === "missing").length,
    mismatches,
    warnings,
  };
}

function describeKey(r: { mode: string; load: number; instances: number | null }): string {
  return `${r.instances != null ? `${r.instances} instance(s), ` : ""}${r.mode} ${r.load}`;
}

export function formatComparison(c: Comparison): string {
  const header = ["Instances", "Mode", "Load", "Base infer/s", "Cur infer/s", "Change", "Base p99 us", "Cur p99 us", "Change", "Verdict"];
  const cells = c.rows.map((r) => [
    r.instances == null ? "-" : String(r.instances),
    r.mode,
    String(r.load),
    r.baseline ? r.baseline.throughput.toFixed(1) : "-",
    r.current ? r.current.throughput.toFixed(1) : "-",
    r.throughputChange !== undefined ? pct(r.throughputChange) : "-",
    r.baseline ? String(Math.round(r.baseline.p99)) : "-",
    r.current ? String(Math.round(r.current.p99)) : "-",
    r.p99Change !== undefined ? pct(r.p99Change) : "-",
    r.verdict === "ok" ? "ok" : r.verdict === "regression" ? `REGRESSION: ${r.reasons.join(", ")}` : r.verdict === "missing" ? "MISSING in current" : "new (not gated)",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  // Every column but the verdict is right-aligned (numbers); the verdict is free text.
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : i === 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const out = [
    `iaas compare: baseline ${c.baseline.file}, current ${c.current.file}; allowed throughput drop ${(c.options.maxThroughputDrop * 100).toFixed(1)}%, p99 rise ${(c.options.maxP99Rise * 100).toFixed(1)}%`,
    line(header),
    ...cells.map(line),
  ];
  for (const m of c.mismatches) out.push(`mismatch: ${m}`);
  for (const w of c.warnings) out.push(`warning: ${w}`);
  out.push(
    c.mismatches.length > 0 || c.missing > 0
      ? `result: cannot gate (${[...(c.mismatches.length ? [`${c.mismatches.length} mismatch(es)`] : []), ...(c.missing ? [`${c.missing} baseline level(s) missing`] : [])].join(", ")})`
      : c.regressions > 0
        ? `result: ${c.regressions} regression(s) in ${c.rows.filter((r) => r.current && r.baseline).length} matched level(s)`
        : `result: no regression in ${c.rows.filter((r) => r.current && r.baseline).length} matched level(s)`,
  );
  return out.join("\n");
}
