// `--fail-if` thresholds (k6 style): "p99<50ms", "throughput>1000", "errors<1%". Every measured level must
// pass every threshold; the sweep still runs to its end, and the command exits 3 when any level breached one.
import type { LevelResult } from "../load/level.ts";

export const THRESHOLD_METRICS = ["p50", "p90", "p95", "p99", "p99.9", "avg", "min", "max", "throughput", "errors", "late"] as const;
export type ThresholdMetric = (typeof THRESHOLD_METRICS)[number];
export type ThresholdOperator = "<" | "<=" | ">" | ">=";

export interface Threshold {
  /** As written. */
  expression: string;
  metric: ThresholdMetric;
  operator: ThresholdOperator;
  /** Latency metrics: microseconds; throughput: inferences/s; errors and late: percent. */
  value: number;
}

export interface ThresholdBreach {
  expression: string;
  /** The level's value, in the threshold's unit (us, inferences/s or percent). */
  actual: number;
}

const LATENCY = new Set<ThresholdMetric>(["p50", "p90", "p95", "p99", "p99.9", "avg", "min", "max"]);
const UNIT_US: Record<string, number> = { us: 1, ms: 1000, s: 1_000_000 };
const SYNTAX = 'expected METRIC OP VALUE, e.g. "p99<50ms", "avg<=2ms", "throughput>1000", "errors<1%", "late<5%"';

/** Parses one expression; throws a RangeError saying what is wrong. */
export function parseThreshold(expression: string): Threshold {
  const m = /^\s*([a-z0-9.]+)\s*(<=|>=|<|>)\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z%/]*)\s*$/i.exec(expression);
  if (!m) throw new RangeError(`invalid threshold "${expression}": ${SYNTAX}`);
  const name = m[1]!.toLowerCase();
  const metric = (THRESHOLD_METRICS as readonly string[]).includes(name) ? (name as ThresholdMetric) : undefined;
  if (metric === undefined) throw new RangeError(`invalid threshold "${expression}": unknown metric "${m[1]}"; metrics: ${THRESHOLD_METRICS.join(", ")}`);
  const operator = m[2] as ThresholdOperator;
  const number = Number(m[3]);
  const unit = m[4]!.toLowerCase();
  let value: number;
  if (LATENCY.has(metric)) {
    // Latency without a unit is in milliseconds, as in k6.
    const scale = UNIT_US[unit === "" ? "ms" : unit];
    if (scale === undefined) throw new RangeError(`invalid threshold "${expression}": latency unit must be us, ms or s, got "${unit}"`);
    value = number * scale;
  } else if (metric === "throughput") {
    if (unit !== "" && unit !== "/s") throw new RangeError(`invalid threshold "${expression}": throughput is in inferences/s (no unit, or /s), got "${unit}"`);
    value = number;
  } else {
    if (unit !== "" && unit !== "%") throw new RangeError(`invalid threshold "${expression}": ${metric} is a percentage (no unit, or %), got "${unit}"`);
    if (number > 100) throw new RangeError(`invalid threshold "${expression}": ${metric} is a percentage, at most 100`);
    value = number;
  }
  return { expression: expression.trim(), metric, operator, value };
}

/** The level's value for `metric`, or undefined when it does not apply (late in a closed loop). */
export function metricValue(level: LevelResult, metric: ThresholdMetric): number | undefined {
  const l = level.latencyUs;
  switch (metric) {
    case "p50":
      return l.p50;
    case "p90":
      return l.p90;
    case "p95":
      return l.p95;
    case "p99":
      return l.p99;
    case "p99.9":
      return l.p999;
    case "avg":
      return l.avg;
    case "min":
      return l.min;
    case "max":
      return l.max;
    case "throughput":
      return level.throughput;
    case "errors": {
      const total = level.requests + level.errorCount;
      return total === 0 ? 0 : Math.round((level.errorCount / total) * 1e6) / 1e4;
    }
    case "late":
      return level.openLoop ? Math.round(level.openLoop.lateShare * 1e6) / 1e4 : undefined;
  }
}

function holds(actual: number, operator: ThresholdOperator, value: number): boolean {
  switch (operator) {
    case "<":
      return actual < value;
    case "<=":
      return actual <= value;
    case ">":
      return actual > value;
    case ">=":
      return actual >= value;
  }
}

/** The thresholds this level breaches; a metric that does not apply to the level is skipped. */
export function evaluateThresholds(level: LevelResult, thresholds: readonly Threshold[]): ThresholdBreach[] {
  const breaches: ThresholdBreach[] = [];
  for (const t of thresholds) {
    const actual = metricValue(level, t.metric);
    if (actual !== undefined && !holds(actual, t.operator, t.value)) breaches.push({ expression: t.expression, actual });
  }
  return breaches;
}

/** "p99 1234 us" style text of a breach's value. */
export function formatActual(threshold: Threshold | undefined, actual: number): string {
  if (threshold === undefined) return String(actual);
  if (LATENCY.has(threshold.metric)) return `${threshold.metric} ${actual} us`;
  if (threshold.metric === "throughput") return `throughput ${actual} infer/s`;
  return `${threshold.metric} ${actual}%`;
}
