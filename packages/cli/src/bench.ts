// The programmatic benchmark, perf_analyzer style: a load sweep (closed-loop concurrency, open-loop request
// rate, or replayed request intervals) against one model, optionally repeated for several instance counts.
// The `iaas bench` command is this plus a table on stdout and CSV / JSON files.
import { createClient, InferenceError, type InferenceClient, type InferOptions, type Protocol } from "@iaas/client";
import { startEmbeddedServer, type EmbeddedServer } from "./embedded-server.ts";
import { evaluateThresholds, parseThreshold, type Threshold, type ThresholdBreach } from "./gate/thresholds.ts";
import { InstanceSweep, instanceCountOf, type InstanceSweepReport } from "./instances.ts";
import { buildInputs, fetchModelInfo, type InputOptions, type ModelInfo } from "./inputs/index.ts";
import { measurementSettings, runLevel, type LevelResult, type LoadMode, type LoadSpec, type MeasurementOptions } from "./load/level.ts";
import { DEFAULT_MAX_OUTSTANDING } from "./load/open-loop.ts";
import { DISTRIBUTIONS, meanRate, readRequestIntervals, type Distribution } from "./load/schedule.ts";
import { ServerStatsReader } from "./load/server-stats.ts";
import type { WindowStats } from "./load/window.ts";
import { parseRange, parseRateRange } from "./range.ts";
import { VERSION } from "./version.ts";

export const DEFAULT_MODEL = "simple";
/** Version of the result / --json layout; `iaas compare` reads this one and 1 (reports without the field). */
export const SCHEMA_VERSION = 2;

export interface BenchOptions extends MeasurementOptions, InputOptions {
  /** Server to load. Absent: an embedded reference server is started as a child process and stopped after. */
  url?: string;
  /** Default "http". */
  protocol?: Protocol;
  /** Default "simple". */
  model?: string;
  modelVersion?: string;
  /** Closed loop: levels, or a range expression ("1..64", "4..32:4", "1..64:x4", "8"). Default [1] when no other load is given. */
  concurrency?: number[] | string;
  /** Open loop: target requests/s, or a range expression ("200", "100..800", "50..200:50"). */
  requestRate?: number[] | string;
  /** Arrival distribution of requestRate. Default "constant"; "poisson" is seeded by `seed`. */
  distribution?: Distribution;
  /** Open loop: intervals in microseconds replayed in a loop, or the path of a file with one per line. */
  requestIntervals?: readonly number[] | string;
  /** Open loop: cap on outstanding requests. Default 512. */
  maxOutstanding?: number;
  /** instance_group counts to sweep (reloading the model through the repository extension), or a range expression. */
  instances?: number[] | string;
  /** Read the model's statistics for the server-side breakdown. Default true. */
  serverStats?: boolean;
  /** Thresholds every level must pass ("p99<50ms", "throughput>1000"); breaches are recorded, not thrown. */
  failIf?: readonly (string | Threshold)[];
  /** Model repository of the embedded server (its default repository when absent). */
  modelRepository?: string;
  /** Headers / metadata sent with every request. */
  headers?: Record<string, string>;
  /** HTTP: send tensors in JSON instead of the binary extension. */
  jsonTensors?: boolean;
  /** Aborting ends the sweep after stopping the current level; the result has interrupted: true. */
  signal?: AbortSignal;
}

/** Which level a window or note belongs to. */
export interface LevelLabel {
  mode: LoadMode;
  load: number;
  instances: number | null;
}

export interface BenchHooks {
  /** The server is reachable and the inputs are built; nothing measured yet. */
  onStart?: (result: BenchResult) => void;
  onWindow?: (level: LevelLabel, stats: WindowStats, index: number) => void;
  /** A level finished; `result.levels` includes it. */
  onLevel?: (level: LevelResult, result: BenchResult) => void;
  /** Something the user should know (also kept in `result.notes`). */
  onNote?: (message: string) => void;
}

export interface BenchLevel extends LevelResult {
  /** The --fail-if thresholds this level breached (present when thresholds were given). */
  thresholdBreaches?: ThresholdBreach[];
}

export interface BenchResult {
  schemaVersion: number;
  tool: "iaas bench";
  version: string;
  startedAt: string;
  finishedAt?: string;
  /** `pid` and `backends` describe the embedded server, when one was started. */
  server: { url: string; protocol: Protocol; embedded: boolean; pid?: number; backends?: string[] };
  model: {
    name: string;
    version?: string;
    platform: string;
    maxBatchSize: number;
    batchSize: number;
    inputs: { name: string; datatype: string; shape: number[] }[];
    requestBytes: number;
  };
  settings: Required<MeasurementOptions> & {
    mode: LoadMode;
    /** The load values of one sweep, in order. */
    loads: number[];
    concurrency?: number[];
    requestRate?: number[];
    distribution?: Distribution;
    requestIntervals?: { file?: string; count: number; meanRate: number };
    maxOutstanding?: number;
    /** instance_group counts swept; null without --instances. */
    instances: number[] | null;
    inputData: string;
    seed: number;
    failIf: string[];
  };
  instanceSweep?: InstanceSweepReport;
  levels: BenchLevel[];
  /** Every planned level was measured (or skipped because the latency threshold ended its sweep). */
  complete: boolean;
  /** The sweep was stopped by the caller's signal (SIGINT for the CLI). */
  interrupted: boolean;
  /** Thresholds given: true when no level breached any. */
  thresholdsPassed?: boolean;
  notes: string[];
}

/** A failure that ends the sweep; `result` holds what was measured before it, when anything was. */
export class BenchError extends Error {
  readonly result: BenchResult | undefined;
  constructor(message: string, result?: BenchResult, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BenchError";
    this.result = result;
  }
}

function describeError(err: unknown): string {
  if (err instanceof InferenceError) return `${err.message} [${err.code}]`;
  return err instanceof Error ? err.message : String(err);
}

/** "concurrency 8", "request rate 200/s", "request intervals (250.5/s)"; with `withInstances`, the instance count too. */
export function describeLevel(l: { mode: LoadMode; load: number; instances?: number | null }, withInstances = false): string {
  const load = l.mode === "concurrency" ? `concurrency ${l.load}` : l.mode === "request_rate" ? `request rate ${l.load}/s` : `request intervals (${l.load}/s)`;
  return withInstances && l.instances != null ? `${load}, ${l.instances} instance(s)` : load;
}

function levelFailure(level: LevelResult, withInstances: boolean): string {
  const parts = Object.entries(level.errors).map(([code, n]) => `${code} x${n}: ${level.errorMessages[code] ?? ""}`.trim());
  return `every request failed at ${describeLevel(level, withInstances)} (${parts.join("; ")})`;
}

interface Plan {
  mode: LoadMode;
  loads: LoadSpec[];
  values: number[];
  settings: Pick<BenchResult["settings"], "concurrency" | "requestRate" | "distribution" | "requestIntervals" | "maxOutstanding">;
}

function planLoads(options: BenchOptions): Plan {
  const given = [options.concurrency, options.requestRate, options.requestIntervals].filter((v) => v !== undefined).length;
  if (given > 1) throw new RangeError("give one load: concurrency, requestRate or requestIntervals");
  const maxOutstanding = options.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING;
  if (!Number.isSafeInteger(maxOutstanding) || maxOutstanding < 1) throw new RangeError(`maxOutstanding must be a positive integer, got ${maxOutstanding}`);
  if (options.requestRate !== undefined) {
    const rates = typeof options.requestRate === "string" ? parseRateRange(options.requestRate) : options.requestRate;
    for (const r of rates) if (!(r > 0) || !Number.isFinite(r)) throw new RangeError(`request rates must be numbers > 0, got ${r}`);
    const distribution = options.distribution ?? "constant";
    if (!DISTRIBUTIONS.includes(distribution)) throw new RangeError(`distribution must be "constant" or "poisson", got "${String(distribution)}"`);
    const seed = options.seed ?? 1;
    return {
      mode: "request_rate",
      loads: rates.map((rate) => ({ mode: "request_rate", rate, distribution, seed })),
      values: rates,
      settings: { requestRate: rates, distribution, maxOutstanding },
    };
  }
  if (options.requestIntervals !== undefined) {
    const file = typeof options.requestIntervals === "string" ? options.requestIntervals : undefined;
    const intervalsUs = file !== undefined ? readRequestIntervals(file) : options.requestIntervals as readonly number[];
    const rate = meanRate(intervalsUs);
    return {
      mode: "request_intervals",
      loads: [{ mode: "request_intervals", intervalsUs }],
      values: [rate],
      settings: { requestIntervals: { ...(file !== undefined ? { file } : {}), count: intervalsUs.length, meanRate: rate }, maxOutstanding },
    };
  }
  const levels = typeof options.concurrency === "string" ? parseRange(options.concurrency) : (options.concurrency ?? [1]);
  for (const c of levels) if (!Number.isSafeInteger(c) || c < 1) throw new RangeError(`concurrency levels must be positive integers, got ${c}`);
  return { mode: "concurrency", loads: levels.map((concurrency) => ({ mode: "concurrency", concurrency })), values: levels, settings: { concurrency: levels } };
}

export async function bench(options: BenchOptions = {}, hooks: BenchHooks = {}): Promise<BenchResult> {
  const settings = measurementSettings(options);
  const plan = planLoads(options);
  const instanceCounts = options.instances === undefined ? null : typeof options.instances === "string" ? parseRange(options.instances) : options.instances;
  for (const n of instanceCounts ?? []) if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`instance counts must be positive integers, got ${n}`);
  const thresholds = (options.failIf ?? []).map((t) => (typeof t === "string" ? parseThreshold(t) : t));
  const protocol = options.protocol ?? "http";
  if (protocol !== "http" && protocol !== "grpc") throw new RangeError(`protocol must be "http" or "grpc", got "${String(protocol)}"`);
  const model = options.model ?? DEFAULT_MODEL;
  const signal = options.signal;

  let embedded: EmbeddedServer | undefined;
  let client: InferenceClient | undefined;
  let control: InferenceClient | undefined;
  let sweep: InstanceSweep | undefined;
  let result: BenchResult | undefined;
  const note = (message: string) => {
    result?.notes.push(message);
    hooks.onNote?.(message);
  };
  try {
    let url = options.url;
    if (url === undefined) {
      embedded = await startEmbeddedServer(options.modelRepository === undefined ? {} : { modelRepository: options.modelRepository });
      url = protocol === "grpc" ? embedded.grpcUrl : embedded.httpUrl;
    }
    const open = plan.mode !== "concurrency";
    client = createClient({
      url,
      protocol,
      // One HTTP connection per in-flight request: a shared connection would serialise them.
      connections: Math.max(64, open ? (plan.settings.maxOutstanding ?? 0) : Math.max(...plan.values)),
      ...(options.headers ? { headers: options.headers } : {}),
    });
    // Statistics and model control on their own connection: behind a busy load pool they would wait for a
    // free connection and read the counters late.
    control = createClient({ url, protocol, connections: 1, ...(options.headers ? { headers: options.headers } : {}) });

    let info: ModelInfo;
    try {
      info = await fetchModelInfo(client, model, options.modelVersion);
    } catch (err) {
      throw new BenchError(`cannot benchmark model "${model}" at ${url} (${protocol}): ${describeError(err)}`, undefined, { cause: err });
    }
    let built;
    try {
      built = buildInputs(info, options);
    } catch (err) {
      throw new BenchError(`cannot build inputs for model "${model}": ${describeError(err)}`, undefined, { cause: err });
    }

    const res: BenchResult = {
      schemaVersion: SCHEMA_VERSION,
      tool: "iaas bench",
      version: VERSION,
      startedAt: new Date().toISOString(),
      server: {
        url,
        protocol,
        embedded: embedded !== undefined,
        ...(embedded ? { pid: embedded.pid } : {}),
        ...(embedded?.backends ? { backends: embedded.backends } : {}),
      },
      model: {
        name: info.name,
        ...(options.modelVersion !== undefined ? { version: options.modelVersion } : {}),
        platform: info.platform,
        maxBatchSize: info.maxBatchSize,
        batchSize: built.batchSize,
        inputs: built.tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: [...t.shape] })),
        requestBytes: built.bytes,
      },
      settings: {
        ...settings,
        mode: plan.mode,
        loads: plan.values,
        ...plan.settings,
        instances: instanceCounts,
        inputData: options.data ?? "zero",
        seed: options.seed ?? 1,
        failIf: thresholds.map((t) => t.expression),
      },
      levels: [],
      complete: false,
      interrupted: false,
      notes: [],
    };
    result = res;

    const versionOption = options.modelVersion !== undefined ? { version: options.modelVersion } : {};
    let counts: readonly (number | null)[] = [null];
    let currentInstances: number | null = null;
    if (instanceCounts !== null) {
      sweep = new InstanceSweep(control, model, instanceCounts, options.modelVersion);
      res.instanceSweep = sweep.report;
      if (await sweep.prepare()) counts = instanceCounts;
      else note(sweep.report.note!);
      currentInstances = sweep.report.original;
    } else {
      currentInstances = await control.modelConfig(model, versionOption).then(
        (c) => instanceCountOf(c),
        () => null,
      );
    }
    hooks.onStart?.(res);

    const inferOptions: InferOptions = { ...versionOption };
    if (options.jsonTensors) {
      inferOptions.binaryInputs = false;
      inferOptions.binaryOutputs = false;
    }
    const stats = options.serverStats === false ? undefined : new ServerStatsReader(control, model, options.modelVersion);
    let statsNoted = false;
    let stopped = false;
    let unsupported = false;
    const sweeping = instanceCounts !== null;
    for (const count of counts) {
      let instances = currentInstances;
      if (count !== null && sweep) {
        let loaded: number | null;
        try {
          loaded = await sweep.apply(count);
        } catch (err) {
          if (signal?.aborted) {
            res.interrupted = true;
            break;
          }
          throw new BenchError(describeError(err), res, { cause: err });
        }
        if (!sweep.report.supported) {
          note(sweep.report.note!);
          unsupported = true;
        } else {
          instances = loaded ?? count;
          if (loaded !== null && loaded !== count) note(`asked for ${count} instance(s) of "${model}", the server reports ${loaded} loaded`);
        }
      }
      for (const load of plan.loads) {
        const label: LevelLabel = { mode: load.mode, load: load.mode === "concurrency" ? load.concurrency : load.mode === "request_rate" ? load.rate : plan.values[0]!, instances };
        let level: BenchLevel;
        try {
          level = await runLevel({
            ...settings,
            client,
            model,
            inputs: built.tensors,
            batchSize: built.batchSize,
            inferOptions,
            load,
            ...(plan.settings.maxOutstanding !== undefined ? { maxOutstanding: plan.settings.maxOutstanding } : {}),
            ...(stats ? { serverStats: stats } : {}),
            ...(signal ? { signal } : {}),
            ...(hooks.onWindow ? { onWindow: (s: WindowStats, i: number) => hooks.onWindow!(label, s, i) } : {}),
          });
        } catch (err) {
          if (signal?.aborted) {
            res.interrupted = true;
            stopped = true;
            break;
          }
          throw new BenchError(`${describeLevel(label, sweeping)}: ${describeError(err)}`, res, { cause: err });
        }
        level.instances = instances;
        if (thresholds.length > 0) level.thresholdBreaches = evaluateThresholds(level, thresholds);
        res.levels.push(level);
        if (stats && !stats.supported && !statsNoted) {
          statsNoted = true;
          note(stats.note!);
        }
        hooks.onLevel?.(level, res);
        if (level.requests === 0 && level.errorCount > 0) throw new BenchError(levelFailure(level, sweeping), res);
        if (level.overLatencyThreshold) {
          if (load !== plan.loads[plan.loads.length - 1])
            note(`${describeLevel(level, sweeping)}: latency over the ${settings.latencyThresholdMs} ms threshold; the rest of this load sweep is skipped`);
          break;
        }
      }
      if (stopped || unsupported) break;
    }
    res.complete = !res.interrupted;
    if (thresholds.length > 0) res.thresholdsPassed = res.levels.every((l) => (l.thresholdBreaches?.length ?? 0) === 0);
    res.finishedAt = new Date().toISOString();
    return res;
  } finally {
    // An embedded server is stopped anyway: nothing to put back.
    if (sweep && !embedded) {
      await sweep.restore();
      if (sweep.report.restored === false)
        note(`could not load model "${model}"'s original configuration back after the instance sweep: ${sweep.report.restoreError}; the server keeps the last instance count`);
    }
    await client?.close();
    await control?.close();
    await embedded?.stop();
  }
}
