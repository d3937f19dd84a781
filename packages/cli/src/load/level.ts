// One load level: warm-up, then measurement windows until stable, over the latency threshold or out of trials.
import { setTimeout as sleep } from "node:timers/promises";
import type { InferenceClient, InferOptions, Tensor } from "@iaas/client";
import { ClosedLoop } from "./closed-loop.ts";
import { CompositeGenerator, splitByWeight, type ModelShare } from "./composite.ts";
import type { LoadGenerator } from "./generator.ts";
import { createHistogram, encodeHistogram, HISTOGRAM_ENCODING, initHistograms, type StabilityLatency } from "./histogram.ts";
import { DEFAULT_MAX_OUTSTANDING, OpenLoop } from "./open-loop.ts";
import { WorkerGenerator } from "./worker-pool.ts";
import type { WorkerTask } from "./worker-wire.ts";
import type { Piscina } from "piscina";
import type { ClientOptions } from "@iaas/client";
import { meanRate, rateIntervals, replayIntervals, type Distribution } from "./schedule.ts";
import { serverBreakdown, type ServerStatsReader, type StatsSnapshot } from "./server-stats.ts";
import { isStable, STABILITY_WINDOWS } from "./stability.ts";
import { LATE_THRESHOLD_MS, windowStats, type Window, type WindowStats } from "./window.ts";

export type MeasurementMode = "time_windows" | "count_windows";
export const MEASUREMENT_MODES: readonly MeasurementMode[] = ["time_windows", "count_windows"];

export interface MeasurementOptions {
  /** Load before measuring, discarded. Default 1000. */
  warmupMs?: number;
  /** Length of one time window (perf_analyzer's --measurement-interval); in count mode, a count window ends after 10x this at the latest. Default 2000. */
  windowMs?: number;
  /** "time_windows" (default) or "count_windows" (a window ends once `measurementRequestCount` requests completed). */
  measurementMode?: MeasurementMode;
  /** Requests per count window. Default 50 (perf_analyzer's). */
  measurementRequestCount?: number;
  /** Most windows per level (at least `stabilityWindows`). Default 10. */
  maxTrials?: number;
  /** Windows agree when max/min <= 1 + this/100. Default 10. */
  stabilityPercentage?: number;
  /** How many last windows must agree; the reported numbers merge them. Default 3. */
  stabilityWindows?: number;
  /** Latency checked for stability and the latency threshold: a percentile, or "avg" (default, as perf_analyzer). */
  percentile?: StabilityLatency;
  /** A window whose latency (`percentile`) exceeds this many ms ends the level, and the sweep. Default null (none). */
  latencyThresholdMs?: number | null;
}

export type LoadMode = "concurrency" | "request_rate" | "request_intervals";

/** What load one level applies. */
export type LoadSpec = (
  | { mode: "concurrency"; concurrency: number }
  | { mode: "request_rate"; rate: number; distribution?: Distribution; seed?: number }
  | { mode: "request_intervals"; intervalsUs: readonly number[] }
) & {
  /** A step of a schedule: measure for this long (windows of windowMs), without stopping at stability. */
  durationMs?: number;
};

/** One model of a multi-model level (`-m a:3 -m b:1`): its own inputs and share of the load by weight. */
export interface LevelModel {
  model: string;
  weight: number;
  client: InferenceClient;
  inputs: Tensor[];
  inferOptions?: InferOptions;
}

export interface LevelOptions extends MeasurementOptions {
  client: InferenceClient;
  model: string;
  inputs: Tensor[];
  /** Samples per request; throughput counts inferences, i.e. requests x batch size. Default 1. */
  batchSize?: number;
  inferOptions?: InferOptions;
  /** The load; `concurrency: N` alone is shorthand for { mode: "concurrency", concurrency: N }. */
  load?: LoadSpec;
  concurrency?: number;
  /** Open loop: cap on requests outstanding (default 512). */
  maxOutstanding?: number;
  /** Reads the model's server statistics at window boundaries for the server-side breakdown. */
  serverStats?: ServerStatsReader;
  /** Aborting ends the level early; runLevel then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Run the load in worker threads of `pool`, `count` of them, each with a client made from `client`. */
  workers?: { pool: Piscina; count: number; client: ClientOptions };
  /** Several models at once: the load is split by weight (`model`, `inputs`, `client` are then unused). */
  models?: LevelModel[];
  /** Called after each measurement window (before its server breakdown is known). */
  onWindow?: (stats: WindowStats, index: number) => void;
}

export interface LevelResult extends WindowStats {
  mode: LoadMode;
  /** The load value: concurrency, target requests/s, or the mean rate of the replayed intervals. */
  load: number;
  /** Closed loop: requests kept in flight. */
  concurrency?: number;
  /** Open loop: target requests/s. */
  requestRate?: number;
  /** Request rate mode: arrival distribution. */
  distribution?: Distribution;
  /** The instance_group count loaded for this level (bench with an instance sweep, or read from the config); null when unknown. */
  instances?: number | null;
  /** The last `stabilityWindows` windows agreed within the stability percentage. */
  stable: boolean;
  /** A window's latency exceeded `latencyThresholdMs`: the level ended there and the sweep stops after it. */
  overLatencyThreshold: boolean;
  /** Every measurement window; the summary fields merge the last `mergedWindows` of them. */
  windows: WindowStats[];
  mergedWindows: number;
  /** Most requests seen in flight at once (equals concurrency for a healthy closed loop). */
  maxInFlight: number;
  /** Open loop: the cap, and how many requests found it reached at their scheduled time and waited. */
  maxOutstanding?: number;
  capDelayed?: number;
  /** Event-loop utilisation of the load generator while measuring (0..1); near 1 means the client is the limit. */
  clientUtilization: number;
  /** Worker threads that ran the load (absent: the bench thread itself). */
  workers?: number;
  /** With workers: each worker's event-loop utilisation over the last window. */
  workerUtilization?: number[];
  /** CPU time of the load generator's process (all its threads) per second of measuring: 1 = one core busy. */
  clientCpu: number;
  /** Multi-model levels: each model's share and numbers; the level's own numbers are the total. */
  models?: ModelShare[];
  /** Schedule steps: the step's planned duration in ms. */
  stepDurationMs?: number;
  /**
   * Open loop: warm-up added after `warmupMs` because the schedule was still behind (at most
   * CATCH_UP_LIMIT_MS), and the lag left when measuring began (over 1 ms: the first window drains a backlog).
   */
  catchUpMs?: number;
  lagAtStartMs?: number;
  /** First error message seen per error code during the level (warm-up included). */
  errorMessages: Record<string, string>;
  /** The merged windows' latency histograms, encoded (`encoding` says how). */
  histograms: { encoding: string; latencyUs: string; latencyFromSendUs?: string };
  /** Why `server` is null, when it is. */
  serverNote?: string;
}

export const DEFAULT_MEASUREMENT: Required<MeasurementOptions> = {
  warmupMs: 1000,
  windowMs: 2000,
  measurementMode: "time_windows",
  measurementRequestCount: 50,
  maxTrials: 10,
  stabilityPercentage: 10,
  stabilityWindows: STABILITY_WINDOWS,
  percentile: "avg",
  latencyThresholdMs: null,
};

/** Open loop: longest extension of the warm-up while the schedule is behind, and the step between checks. */
export const CATCH_UP_LIMIT_MS = 5000;
const CATCH_UP_STEP_MS = 100;
/** Catch-up steps in a row that must keep the schedule before measuring starts. */
const CATCH_UP_CALM_STEPS = 2;

/**
 * An open-loop window that ended behind: sends more than 1 ms behind the schedule, or sends and completions
 * apart by more than jitter (2%, at least 3): a backlog sent in a burst whose responses are still to come,
 * or responses to earlier requests still arriving. Either would be counted in the next window.
 */
function isBehind(w: Window): boolean {
  return w.lagAtEndMs > LATE_THRESHOLD_MS || Math.abs(w.completed - w.sent) > Math.max(3, 0.02 * w.sent);
}

/** A count window that has not reached its request count after this many time windows ends anyway. */
export const COUNT_WINDOW_TIMEOUT_FACTOR = 10;

/** Fills defaults and checks ranges; throws a RangeError naming the option. */
export function measurementSettings(options: MeasurementOptions): Required<MeasurementOptions> {
  const s = { ...DEFAULT_MEASUREMENT };
  for (const [k, v] of Object.entries(options)) if (v !== undefined && k in s) (s as Record<string, unknown>)[k] = v;
  const intAtLeast = (name: string, v: number, min: number) => {
    if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  };
  intAtLeast("warmupMs", s.warmupMs, 0);
  intAtLeast("windowMs", s.windowMs, 1);
  intAtLeast("stabilityWindows", s.stabilityWindows, 1);
  intAtLeast("maxTrials", s.maxTrials, s.stabilityWindows);
  intAtLeast("measurementRequestCount", s.measurementRequestCount, 1);
  if (!MEASUREMENT_MODES.includes(s.measurementMode)) throw new RangeError(`measurementMode must be "time_windows" or "count_windows", got "${String(s.measurementMode)}"`);
  if (!(s.stabilityPercentage > 0)) throw new RangeError(`stabilityPercentage must be > 0, got ${s.stabilityPercentage}`);
  if (s.percentile !== "avg" && !(s.percentile > 0 && s.percentile < 100)) throw new RangeError(`percentile must be between 0 and 100 (exclusive), got ${s.percentile}`);
  if (s.latencyThresholdMs !== null && !(s.latencyThresholdMs > 0)) throw new RangeError(`latencyThresholdMs must be > 0, got ${s.latencyThresholdMs}`);
  return s;
}

function loadOf(options: LevelOptions): LoadSpec {
  if (options.load !== undefined) return options.load;
  if (options.concurrency !== undefined) return { mode: "concurrency", concurrency: options.concurrency };
  throw new RangeError("runLevel needs `load` (or `concurrency`)");
}

function scaledLoad(load: LoadSpec, share: number, whole: number): LoadSpec {
  if (load.mode === "concurrency") return { ...load, concurrency: share };
  if (load.mode === "request_rate") return { ...load, rate: share };
  return { ...load, intervalsUs: load.intervalsUs.map((us) => (us * whole) / share) };
}

function workerGenerator(options: LevelOptions, load: LoadSpec): WorkerGenerator {
  const w = options.workers!;
  const inputs = options.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: [...t.shape], raw: t.toRaw() }));
  const { signal: _signal, ...inferOptions } = options.inferOptions ?? {};
  const shares = load.mode === "concurrency" ? splitByWeight(load.concurrency, Array(w.count).fill(1)) : Array(w.count).fill(1);
  const tasks: Omit<WorkerTask, "port">[] = [];
  shares.forEach((share, i) => {
    if (share <= 0) return;
    const taskLoad: WorkerTask["load"] =
      load.mode === "concurrency"
        ? { mode: "concurrency", concurrency: share }
        : load.mode === "request_rate"
          ? (load.distribution ?? "constant") === "poisson"
            ? { mode: "open", intervalsMs: "poisson", rate: load.rate / w.count, seed: (load.seed ?? 1) + i }
            : { mode: "open", intervalsMs: "constant", rate: load.rate / w.count }
          : { mode: "open", intervalsMs: "replay", intervalsUs: load.intervalsUs.map((us) => us * w.count) };
    tasks.push({
      client: w.client,
      model: options.model,
      inputs,
      inferOptions,
      load: taskLoad,
      ...(options.maxOutstanding !== undefined ? { maxOutstanding: Math.max(1, Math.ceil(options.maxOutstanding / w.count)) } : {}),
    });
  });
  return new WorkerGenerator(w.pool, tasks, load.mode !== "concurrency");
}

function createGenerator(options: LevelOptions, load: LoadSpec): LoadGenerator {
  if (options.workers && options.workers.count > 1 && !options.models?.length) return workerGenerator(options, load);
  const models = options.models;
  if (models && models.length > 0) {
    const weights = models.map((m) => m.weight);
    const total = load.mode === "concurrency" ? load.concurrency : load.mode === "request_rate" ? load.rate : 1;
    const sum = weights.reduce((a, b) => a + b, 0);
    const shares = load.mode === "concurrency" ? splitByWeight(total, weights) : weights.map((w) => (total * w) / sum);
    const parts = models
      .map((m, i) => ({ m, share: shares[i]! }))
      .filter(({ share }) => share > 0)
      .map(({ m, share }) => ({
        name: m.model,
        weight: m.weight,
        load: Math.round(share * 1000) / 1000,
        batchSize: options.batchSize ?? 1,
        gen: createGenerator(
          { ...options, models: undefined, client: m.client, model: m.model, inputs: m.inputs, ...(m.inferOptions ? { inferOptions: m.inferOptions } : {}) },
          scaledLoad(load, share, total),
        ),
      }));
    return new CompositeGenerator(parts, load.mode !== "concurrency");
  }
  const common = {
    client: options.client,
    model: options.model,
    inputs: options.inputs,
    ...(options.inferOptions ? { inferOptions: options.inferOptions } : {}),
  };
  if (load.mode === "concurrency") return new ClosedLoop({ ...common, concurrency: load.concurrency });
  const intervals = load.mode === "request_rate" ? rateIntervals(load.rate, load.distribution ?? "constant", load.seed ?? 1) : replayIntervals(load.intervalsUs);
  return new OpenLoop({ ...common, intervals, ...(options.maxOutstanding !== undefined ? { maxOutstanding: options.maxOutstanding } : {}) });
}

/** Time window: sleep. Count window: until the request count completed, or the timeout. */
async function waitForWindow(gen: LoadGenerator, s: Required<MeasurementOptions>, signal: AbortSignal | undefined): Promise<void> {
  if (s.measurementMode === "time_windows") {
    await sleep(s.windowMs, undefined, signal ? { signal } : {});
    return;
  }
  const timeout = new AbortController();
  const timer = sleep(s.windowMs * COUNT_WINDOW_TIMEOUT_FACTOR, undefined, { signal: signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal });
  try {
    const done = gen instanceof CompositeGenerator ? gen.whenCompleted(s.measurementRequestCount) : gen.window.whenCompleted(s.measurementRequestCount);
    await Promise.race([done, timer]);
  } finally {
    timeout.abort();
    await timer.catch(() => {});
  }
  signal?.throwIfAborted();
}

/** Per-column means of rows of equal length, to 3 decimals. */
function averageColumns(rows: number[][]): number[] {
  if (rows.length === 0) return [];
  return rows[0]!.map((_, i) => Math.round((rows.reduce((a, r) => a + (r[i] ?? 0), 0) / rows.length) * 1000) / 1000);
}

export async function runLevel(options: LevelOptions): Promise<LevelResult> {
  const settings = measurementSettings(options);
  const load = loadOf(options);
  const batchSize = options.batchSize ?? 1;
  const signal = options.signal;
  signal?.throwIfAborted();
  await initHistograms();

  const gen = createGenerator(options, load);
  const reader = options.serverStats;
  if (reader?.supported) reader.note = undefined;
  const windows: Window[] = [];
  const stats: WindowStats[] = [];
  const snapshots: Promise<StatsSnapshot | undefined>[] = [];
  const errorMessages: Record<string, string> = {};
  const keepMessages = (w: Window) => {
    for (const [code, message] of w.errorMessages) errorMessages[code] ??= message;
  };
  const thresholdUs = settings.latencyThresholdMs === null ? Infinity : settings.latencyThresholdMs * 1000;
  let stable = false;
  let over = false;
  let elu: ReturnType<typeof performance.eventLoopUtilization> | undefined;
  let cpu: NodeJS.CpuUsage | undefined;
  let measureStart = 0;
  let measuredMs = 0;
  let catchUpMs = 0;
  let lagAtStartMs = 0;
  // Schedule steps measure for their duration, however stable they are.
  const trials = load.durationMs !== undefined ? Math.max(1, Math.round(load.durationMs / settings.windowMs)) : settings.maxTrials;
  const fixed = load.durationMs !== undefined;
  // Which rotations are measurement windows (the warm-up is rotation 0 when there is one): per-part results.
  const measuredRotations: number[] = [];
  const workerElu: number[][] = [];
  let rotations = 0;
  gen.start();
  try {
    if (settings.warmupMs > 0) {
      await sleep(settings.warmupMs, undefined, signal ? { signal } : {});
      let warm = await gen.rotate();
      rotations++;
      // An open loop that fell behind in the warm-up (connection set-up, JIT, a stall) would drain that
      // backlog inside the first measured window and count it there: rates above the target. Warm up on,
      // in short steps, until the schedule is kept and the responses are no longer draining a backlog,
      // for at most CATCH_UP_LIMIT_MS. Once behind, CATCH_UP_CALM_STEPS steps in a row must be on schedule:
      // in one step of a loaded machine the answers of a backlog can match the sends by chance.
      const catchUpStart = performance.now();
      let calmSteps = 0;
      for (let behind = isBehind(warm); load.mode !== "concurrency" && performance.now() - catchUpStart < CATCH_UP_LIMIT_MS; behind = isBehind(warm)) {
        if (behind) calmSteps = 0;
        else if (rotations === 1 || ++calmSteps >= CATCH_UP_CALM_STEPS) break;
        keepMessages(warm);
        warm.destroy();
        await sleep(CATCH_UP_STEP_MS, undefined, signal ? { signal } : {});
        warm = await gen.rotate();
        rotations++;
      }
      if (load.mode !== "concurrency") {
        catchUpMs = Math.round(performance.now() - catchUpStart);
        lagAtStartMs = Math.round(warm.lagAtEndMs * 1000) / 1000;
      }
      keepMessages(warm);
      warm.destroy();
    }
    if (reader) snapshots.push(reader.snapshot());
    elu = performance.eventLoopUtilization();
    cpu = process.cpuUsage();
    measureStart = performance.now();
    while (stats.length < trials) {
      await waitForWindow(gen, settings, signal);
      const w = await gen.rotate();
      measuredRotations.push(rotations++);
      if (gen instanceof WorkerGenerator) workerElu.push(gen.lastUtilization);
      if (reader) snapshots.push(reader.snapshot());
      windows.push(w);
      keepMessages(w);
      const s = windowStats(w, w.durationMs, batchSize, settings.percentile);
      stats.push(s);
      options.onWindow?.(s, stats.length - 1);
      if (s.latencyUs.selected.value > thresholdUs) {
        over = true;
        break;
      }
      if (isStable(stats, settings.stabilityPercentage, settings.stabilityWindows)) {
        stable = true;
        if (!fixed) break;
      } else stable = false;
    }
    elu = performance.eventLoopUtilization(elu);
    cpu = process.cpuUsage(cpu);
    measuredMs = performance.now() - measureStart;
  } catch (err) {
    for (const w of windows) w.destroy();
    await Promise.all(snapshots);
    (await gen.stop()).destroy();
    if (gen instanceof CompositeGenerator) gen.destroy();
    throw err;
  }
  (await gen.stop()).destroy();

  const snaps = await Promise.all(snapshots);
  const fromSendAvg = (s: WindowStats) => s.openLoop?.latencyFromSendUs.avg ?? s.latencyUs.avg;
  if (reader) for (const [i, s] of stats.entries()) s.server = serverBreakdown(snaps[i], snaps[i + 1], fromSendAvg(s));

  const mergedCount = Math.min(settings.stabilityWindows, windows.length);
  const last = windows.slice(-mergedCount);
  const merged = createHistogram();
  const mergedSend = load.mode !== "concurrency" ? createHistogram() : undefined;
  const errors = new Map<string, number>();
  let successes = 0;
  let failures = 0;
  let durationMs = 0;
  let sent = 0;
  let late = 0;
  let maxLateMs = 0;
  // Catch-up sends between merged windows move counts from one to the next; only those carried into the first
  // merged window were scheduled before the span the rates are computed over.
  const carriedIn = last[0]?.carriedIn ?? 0;
  for (const w of last) {
    merged.add(w.hist);
    if (mergedSend && w.sendHist) mergedSend.add(w.sendHist);
    successes += w.successes;
    failures += w.failures;
    durationMs += w.durationMs;
    sent += w.sent;
    late += w.late;
    if (w.maxLateMs > maxLateMs) maxLateMs = w.maxLateMs;
    for (const [code, n] of w.errors) errors.set(code, (errors.get(code) ?? 0) + n);
  }
  const summary = windowStats({ hist: merged, sendHist: mergedSend, successes, failures, errors, sent, late, maxLateMs, carriedIn, lagAtEndMs: last.at(-1)?.lagAtEndMs ?? 0 }, durationMs, batchSize, settings.percentile);
  const histograms: LevelResult["histograms"] = { encoding: HISTOGRAM_ENCODING, latencyUs: encodeHistogram(merged) };
  if (mergedSend) histograms.latencyFromSendUs = encodeHistogram(mergedSend);
  merged.destroy();
  mergedSend?.destroy();
  for (const w of windows) w.destroy();

  const server = reader ? serverBreakdown(snaps[snaps.length - 1 - mergedCount], snaps[snaps.length - 1], fromSendAvg(summary)) : null;
  const result: LevelResult = {
    mode: load.mode,
    load: load.mode === "concurrency" ? load.concurrency : load.mode === "request_rate" ? load.rate : meanRate(load.intervalsUs),
    ...(load.mode === "concurrency" ? { concurrency: load.concurrency } : {}),
    ...(load.mode === "request_rate" ? { requestRate: load.rate, distribution: load.distribution ?? "constant" } : {}),
    stable,
    overLatencyThreshold: over,
    ...summary,
    server,
    windows: stats,
    mergedWindows: mergedCount,
    maxInFlight: gen.maxInFlight,
    ...(gen instanceof OpenLoop ? { maxOutstanding: gen.maxOutstanding, capDelayed: gen.capDelayed } : {}),
    ...(gen instanceof WorkerGenerator && load.mode !== "concurrency" ? { maxOutstanding: options.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING, capDelayed: gen.capDelayed } : {}),
    ...(gen instanceof CompositeGenerator && load.mode !== "concurrency"
      ? { maxOutstanding: options.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING, capDelayed: gen.parts.reduce((n, p) => n + (p.gen instanceof OpenLoop ? p.gen.capDelayed : 0), 0) }
      : {}),
    // With workers the load threads are what can saturate: their busiest one, averaged over the windows.
    clientUtilization: workerElu.length > 0 ? Math.max(...averageColumns(workerElu)) : Math.round((elu?.utilization ?? 0) * 1000) / 1000,
    clientCpu: cpu && measuredMs > 0 ? Math.round(((cpu.user + cpu.system) / 1000 / measuredMs) * 1000) / 1000 : 0,
    ...(load.durationMs !== undefined ? { stepDurationMs: load.durationMs } : {}),
    ...(load.mode !== "concurrency" && settings.warmupMs > 0 ? { catchUpMs, lagAtStartMs } : {}),
    ...(gen instanceof WorkerGenerator ? { workers: gen.workers, workerUtilization: averageColumns(workerElu) } : {}),
    errorMessages,
    histograms,
  };
  if (gen instanceof CompositeGenerator) {
    result.models = gen.shares(measuredRotations.slice(-mergedCount), settings.percentile);
    gen.destroy();
  }
  if (server === null)
    result.serverNote = reader
      ? (reader.note ?? "the server counted no successful request over the merged windows, or its counters were reset (model reloaded)")
      : "server statistics not read";
  return result;
}
