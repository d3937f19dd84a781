// One concurrency level: warm-up, then measurement windows until stable or out of trials.
import { setTimeout as sleep } from "node:timers/promises";
import type { InferenceClient, InferOptions, Tensor } from "@iaas/client";
import { ClosedLoop } from "./closed-loop.ts";
import { createHistogram, initHistograms, type StabilityLatency } from "./histogram.ts";
import { isStable, STABILITY_WINDOWS } from "./stability.ts";
import { windowStats, type Window, type WindowStats } from "./window.ts";

export interface MeasurementOptions {
  /** Load before measuring, discarded. Default 1000. */
  warmupMs?: number;
  /** Length of one measurement window. Default 2000. */
  windowMs?: number;
  /** Most windows per level (at least 3). Default 5. */
  maxTrials?: number;
  /** Windows agree when max/min <= 1 + this/100. Default 10. */
  stabilityPercentage?: number;
  /** Latency checked for stability: a percentile, or "avg" (default, as perf_analyzer). */
  percentile?: StabilityLatency;
}

export interface LevelOptions extends MeasurementOptions {
  client: InferenceClient;
  model: string;
  inputs: Tensor[];
  /** Samples per request; throughput counts inferences, i.e. requests x batch size. Default 1. */
  batchSize?: number;
  inferOptions?: InferOptions;
  concurrency: number;
  /** Aborting ends the level early; runLevel then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called after each measurement window. */
  onWindow?: (stats: WindowStats, index: number) => void;
}

export interface LevelResult extends WindowStats {
  concurrency: number;
  /** The last 3 windows agreed within the stability percentage. */
  stable: boolean;
  /** Every measurement window; the summary fields merge the last 3 (fewer only when maxTrials < 3). */
  windows: WindowStats[];
  /** Most requests seen in flight at once (equals concurrency for a healthy closed loop). */
  maxInFlight: number;
  /** Event-loop utilisation of the load generator while measuring (0..1); near 1 means the client is the limit. */
  clientUtilization: number;
  /** First error message seen per error code during the level (warm-up included). */
  errorMessages: Record<string, string>;
}

export const DEFAULT_MEASUREMENT: Required<MeasurementOptions> = {
  warmupMs: 1000,
  windowMs: 2000,
  maxTrials: 5,
  stabilityPercentage: 10,
  percentile: "avg",
};

/** Fills defaults and checks ranges; throws a RangeError naming the option. */
export function measurementSettings(options: MeasurementOptions): Required<MeasurementOptions> {
  const s = { ...DEFAULT_MEASUREMENT };
  for (const [k, v] of Object.entries(options)) if (v !== undefined && k in s) (s as Record<string, unknown>)[k] = v;
  const intAtLeast = (name: string, v: number, min: number) => {
    if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  };
  intAtLeast("warmupMs", s.warmupMs, 0);
  intAtLeast("windowMs", s.windowMs, 1);
  intAtLeast("maxTrials", s.maxTrials, STABILITY_WINDOWS);
  if (!(s.stabilityPercentage > 0)) throw new RangeError(`stabilityPercentage must be > 0, got ${s.stabilityPercentage}`);
  if (s.percentile !== "avg" && !(s.percentile > 0 && s.percentile < 100)) throw new RangeError(`percentile must be between 0 and 100 (exclusive), got ${s.percentile}`);
  return s;
}

export async function runLevel(options: LevelOptions): Promise<LevelResult> {
  const settings = measurementSettings(options);
  const batchSize = options.batchSize ?? 1;
  const signal = options.signal;
  signal?.throwIfAborted();
  await initHistograms();

  const loop = new ClosedLoop(options);
  const windows: Window[] = [];
  const stats: WindowStats[] = [];
  const errorMessages: Record<string, string> = {};
  const keepMessages = (w: Window) => {
    for (const [code, message] of w.errorMessages) errorMessages[code] ??= message;
  };
  let stable = false;
  let elu: ReturnType<typeof performance.eventLoopUtilization> | undefined;
  loop.start();
  try {
    if (settings.warmupMs > 0) {
      await sleep(settings.warmupMs, undefined, { signal });
      const warm = loop.rotate();
      keepMessages(warm);
      warm.destroy();
    }
    elu = performance.eventLoopUtilization();
    while (stats.length < settings.maxTrials) {
      await sleep(settings.windowMs, undefined, { signal });
      const w = loop.rotate();
      windows.push(w);
      keepMessages(w);
      const s = windowStats(w, w.durationMs, batchSize, settings.percentile);
      stats.push(s);
      options.onWindow?.(s, stats.length - 1);
      if (isStable(stats, settings.stabilityPercentage)) {
        stable = true;
        break;
      }
    }
    elu = performance.eventLoopUtilization(elu);
  } catch (err) {
    for (const w of windows) w.destroy();
    throw err;
  } finally {
    (await loop.stop()).destroy();
  }

  const last = windows.slice(-STABILITY_WINDOWS);
  const merged = createHistogram();
  const errors = new Map<string, number>();
  let successes = 0;
  let failures = 0;
  let durationMs = 0;
  for (const w of last) {
    merged.add(w.hist);
    successes += w.successes;
    failures += w.failures;
    durationMs += w.durationMs;
    for (const [code, n] of w.errors) errors.set(code, (errors.get(code) ?? 0) + n);
  }
  const summary = windowStats({ hist: merged, successes, failures, errors }, durationMs, batchSize, settings.percentile);
  merged.destroy();
  for (const w of windows) w.destroy();
  return {
    concurrency: options.concurrency,
    stable,
    ...summary,
    windows: stats,
    maxInFlight: loop.maxInFlight,
    clientUtilization: Math.round((elu?.utilization ?? 0) * 1000) / 1000,
    errorMessages,
  };
}
