// The programmatic benchmark, perf_analyzer style: a load sweep (closed-loop concurrency, open-loop request
// rate, or replayed request intervals) against one model, optionally repeated for several instance counts.
// The `iaas bench` command is this plus a table on stdout and CSV / JSON files.
import { createClient, InferenceError, protocolOf, type ClientAuth, type ClientOptions, type ClientTlsOptions, type Compression, type InferenceClient, type InferOptions, type Protocol, type Tensor } from "@iaas/client";
import { startEmbeddedServer, type EmbeddedServer } from "./embedded-server.ts";
import { evaluateThresholds, parseThreshold, type Threshold, type ThresholdBreach } from "./gate/thresholds.ts";
import { InstanceSweep, instanceCountOf, type InstanceSweepReport } from "./instances.ts";
import { buildInputs, fetchModelInfo, type InputOptions, type ModelInfo } from "./inputs/index.ts";
import { parseConcurrencySchedule } from "./load/concurrency-schedule.ts";
import { measurementSettings, runLevel, type LevelModel, type LevelResult, type LoadMode, type LoadSpec, type MeasurementOptions } from "./load/level.ts";
import { isDataFile, readDataFile, type DataFile } from "./requests/data-file.ts";
import { createRequestPipeline, type RequestPipeline } from "./requests/pipeline.ts";
import { parseModelWeights, type WeightedModel } from "./requests/models.ts";
import { DEFAULT_MAX_OUTSTANDING } from "./load/open-loop.ts";
import { DISTRIBUTIONS, meanRate, readRequestIntervals, type Distribution } from "./load/schedule.ts";
import { ServerStatsReader } from "./load/server-stats.ts";
import type { WindowStats } from "./load/window.ts";
import { parseRange, parseRateRange } from "./range.ts";
import { VERSION } from "./version.ts";
import { availableParallelism } from "node:os";
import type { Piscina } from "piscina";
import { createLoadPool } from "./load/worker-pool.ts";

export const DEFAULT_MODEL = "simple";
/** Worker threads "auto" switches to: the cores left beside the bench thread, 2 to 4. */
export const AUTO_WORKERS = Math.max(2, Math.min(4, availableParallelism() - 1));

/**
 * The load generator, not the server, limited a level: its (busiest) load thread's event loop was over 90%
 * busy while the server's queue stayed short (under 10% of the server's request time, or unknown), in a level
 * whose requests (nearly) all succeeded.
 */
export function clientLimited(
  level: Pick<LevelResult, "clientUtilization" | "server" | "requests" | "errorCount"> & { openLoop?: { lateShare: number } | undefined },
): boolean {
  if (level.clientUtilization <= 0.9) return false;
  // An open loop that keeps its schedule offers exactly the target rate, so it limits nothing; at high rates
  // it waits for the next send in setImmediate turns, which reads as a busy thread.
  if (level.openLoop && level.openLoop.lateShare <= 0.01) return false;
  // Failing requests spin the loop without load reaching the server: that busyness says nothing.
  if (level.requests === 0 || level.errorCount > level.requests * 0.01) return false;
  const s = level.server;
  return !s || s.requestUs <= 0 || s.queueUs < 0.1 * s.requestUs;
}
/** Version of the result / --json layout; `iaas compare` reads this one and 1 (reports without the field). */
export const SCHEMA_VERSION = 2;

export interface BenchOptions extends MeasurementOptions, Omit<InputOptions, "data"> {
  /** "zero" (default), "random", or a data file: KServe v2 JSON requests (.json) or Arrow IPC rows (.arrow). */
  data?: string;
  /** Server to load. Absent: an embedded reference server is started as a child process and stopped after. */
  url?: string;
  /** Default "http". */
  protocol?: Protocol;
  /** Default "simple". */
  model?: string;
  /**
   * Several models loaded at once, the load split by weight: names ("a", weight 1), "name:weight" or
   * { name, weight }. Overrides `model` when it has more than one entry.
   */
  models?: readonly (string | WeightedModel)[];
  modelVersion?: string;
  /** Closed loop: levels, or a range expression ("1..64", "4..32:4", "1..64:x4", "8"). Default [1] when no other load is given. */
  concurrency?: number[] | string;
  /** Open loop: target requests/s, or a range expression ("200", "100..800", "50..200:50"). */
  requestRate?: number[] | string;
  /** Arrival distribution of requestRate. Default "constant"; "poisson" is seeded by `seed`. */
  distribution?: Distribution;
  /** Open loop: intervals in microseconds replayed in a loop, or the path of a file with one per line. */
  requestIntervals?: readonly number[] | string;
  /** Closed-loop steps of fixed duration: "4@10s,16@10s", "1..16:x2@2s*3" (see load/concurrency-schedule.ts). */
  concurrencySchedule?: string;
  /** Check each response against the data file's expected outputs; a mismatch is an error of code "validation". */
  validate?: boolean;
  /** gRPC: send requests on one ModelStreamInfer stream (perf_analyzer's --streaming). */
  streaming?: boolean;
  /** "system": inputs and outputs through POSIX shared memory (the server needs --allow-shared-memory). Default "none". */
  sharedMemory?: "none" | "system";
  /** Bytes per output in shared memory when the metadata leaves its size open. Default 102400. */
  outputSharedMemorySize?: number;
  /** TLS (https:// or grpcs:// URLs), credentials and request compression, passed to the client. */
  tls?: ClientTlsOptions;
  auth?: ClientAuth;
  compression?: Compression;
  /**
   * Load threads: a number (1 = the bench thread itself; N > 1 = N worker threads, each with its own client
   * and share of the load), or "auto" (default): 1, switching the remaining levels to AUTO_WORKERS threads
   * after a level in which the bench thread was the bottleneck (see clientLimited).
   */
  workers?: number | "auto";
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
    concurrencySchedule?: string;
    models?: WeightedModel[];
    validate?: boolean;
    streaming?: boolean;
    sharedMemory?: "none" | "system";
    compression?: Compression;
    tls?: boolean;
    workers: number | "auto";
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
  settings: Pick<BenchResult["settings"], "concurrency" | "requestRate" | "distribution" | "requestIntervals" | "maxOutstanding" | "concurrencySchedule">;
}

function planLoads(options: BenchOptions): Plan {
  const given = [options.concurrency, options.requestRate, options.requestIntervals, options.concurrencySchedule].filter((v) => v !== undefined).length;
  if (given > 1) throw new RangeError("give one load: concurrency, requestRate, requestIntervals or concurrencySchedule");
  if (options.concurrencySchedule !== undefined) {
    const steps = parseConcurrencySchedule(options.concurrencySchedule);
    return {
      mode: "concurrency",
      loads: steps.map((s) => ({ mode: "concurrency", concurrency: s.concurrency, durationMs: s.durationMs })),
      values: steps.map((s) => s.concurrency),
      settings: { concurrency: steps.map((s) => s.concurrency), concurrencySchedule: options.concurrencySchedule },
    };
  }
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
  const protocol = options.protocol ?? (options.url !== undefined ? protocolOf(options.url) : "http");
  if (protocol !== "http" && protocol !== "grpc") throw new RangeError(`protocol must be "http" or "grpc", got "${String(protocol)}"`);
  const weighted = options.models !== undefined && options.models.length > 0 ? parseModelWeights(options.models) : [{ name: options.model ?? DEFAULT_MODEL, weight: 1 }];
  const model = weighted[0]!.name;
  const multi = weighted.length > 1;
  const dataPath = isDataFile(options.data) ? options.data : undefined;
  if (multi && dataPath !== undefined) throw new RangeError("an input data file describes one model's inputs; give one model with it");
  if (multi && instanceCounts !== null) throw new RangeError("an instance sweep reloads one model; give one model with it");
  if (options.validate && dataPath === undefined) throw new RangeError("validate needs an input data file with expected outputs");
  if (options.streaming && protocol !== "grpc") throw new RangeError("streaming needs gRPC (ModelStreamInfer); HTTP has no streaming inference");
  const shm = options.sharedMemory ?? "none";
  if (shm !== "none" && shm !== "system") throw new RangeError(`sharedMemory must be "none" or "system", got "${String(shm)}"`);
  const signal = options.signal;
  const pipelines: RequestPipeline[] = [];
  const workersOption = options.workers ?? "auto";
  if (workersOption !== "auto" && (!Number.isSafeInteger(workersOption) || workersOption < 1)) throw new RangeError(`workers must be a positive integer or "auto", got ${workersOption}`);
  // Worker threads run plain requests of one model in time windows; the rest stays on the bench thread.
  const threadBlocker = multi
    ? "several models"
    : dataPath !== undefined
      ? "an input data file"
      : options.streaming
        ? "streaming"
        : shm !== "none"
          ? "shared memory"
          : settings.measurementMode === "count_windows"
            ? "count windows"
            : undefined;
  if (typeof workersOption === "number" && workersOption > 1 && threadBlocker !== undefined)
    throw new RangeError(`worker threads do not combine with ${threadBlocker}; use workers 1`);
  let workers = workersOption === "auto" ? 1 : workersOption;
  let pool: Piscina | undefined;

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
      embedded = await startEmbeddedServer({
        ...(options.modelRepository === undefined ? {} : { modelRepository: options.modelRepository }),
        ...(shm === "system" ? { allowSharedMemory: true } : {}),
      });
      url = protocol === "grpc" ? embedded.grpcUrl : embedded.httpUrl;
    }
    const open = plan.mode !== "concurrency";
    const inFlightMax = open ? (plan.settings.maxOutstanding ?? 0) : Math.max(...plan.values);
    const shared: Partial<ClientOptions> = {
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.auth ? { auth: options.auth } : {}),
      ...(options.compression ? { compression: options.compression } : {}),
    };
    // One HTTP connection per in-flight request: a shared connection would serialise them.
    client = createClient({ url, protocol, connections: Math.max(64, inFlightMax), ...shared });
    // Statistics and model control on their own connection: behind a busy load pool they would wait for a
    // free connection and read the counters late.
    control = createClient({ url, protocol, connections: 1, ...shared });

    const infos: ModelInfo[] = [];
    const builts: { tensors: Tensor[]; batchSize: number; bytes: number }[] = [];
    let dataFile: DataFile | undefined;
    for (const m of weighted) {
      let info: ModelInfo;
      try {
        info = await fetchModelInfo(client, m.name, options.modelVersion);
      } catch (err) {
        throw new BenchError(`cannot benchmark model "${m.name}" at ${url} (${protocol}): ${describeError(err)}`, undefined, { cause: err });
      }
      try {
        if (dataPath !== undefined) {
          dataFile = await readDataFile(dataPath, info);
          const first = dataFile.requests[0]!.inputs;
          builts.push({ tensors: first, batchSize: info.maxBatchSize > 0 ? (first[0]?.shape[0] ?? 1) : 1, bytes: first.reduce((n, t) => n + t.byteSize, 0) });
          if (options.validate && dataFile.withExpected === 0)
            throw new RangeError(`${dataPath} has no expected outputs to validate against (JSON: "outputs" entries with "data"; Arrow: columns named like the model's outputs)`);
        } else builts.push(buildInputs(info, { ...options, data: options.data === "random" ? "random" : "zero" }));
      } catch (err) {
        throw new BenchError(`cannot build inputs for model "${m.name}": ${describeError(err)}`, undefined, { cause: err });
      }
      infos.push(info);
    }
    const info = infos[0]!;
    const built = builts[0]!;
    for (const [i, m] of weighted.entries()) {
      try {
        pipelines.push(
          await createRequestPipeline({
            client,
            info: infos[i]!,
            batchSize: builts[i]!.batchSize,
            requests: dataFile ? dataFile.requests : [{ inputs: builts[i]!.tensors }],
            ...(options.validate ? { validate: true } : {}),
            ...(options.streaming ? { stream: true } : {}),
            ...(shm === "system" ? { sharedMemory: { slots: Math.max(1, inFlightMax), ...(options.outputSharedMemorySize ? { outputBytes: options.outputSharedMemorySize } : {}) } } : {}),
          }),
        );
      } catch (err) {
        throw new BenchError(`cannot set up requests for model "${m.name}": ${describeError(err)}`, undefined, { cause: err });
      }
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
        ...(multi ? { models: weighted } : {}),
        ...(options.validate ? { validate: true } : {}),
        ...(options.streaming ? { streaming: true } : {}),
        ...(shm !== "none" ? { sharedMemory: shm } : {}),
        ...(options.compression ? { compression: options.compression } : {}),
        workers: workersOption,
        ...(options.tls || url.startsWith("https://") || url.startsWith("grpcs://") ? { tls: true } : {}),
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
    if (multi && options.serverStats !== false) note("several models: the server-side breakdown is not read (it is per model); the per-model numbers are in each level's `models`");
    const stats = options.serverStats === false || multi ? undefined : new ServerStatsReader(control, model, options.modelVersion);
    const levelModels: LevelModel[] | undefined = multi
      ? weighted.map((m, i) => ({ model: m.name, weight: m.weight, client: pipelines[i]!.client, inputs: pipelines[i]!.inputs, inferOptions }))
      : undefined;
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
            client: pipelines[0]!.client,
            model,
            inputs: pipelines[0]!.inputs,
            ...(levelModels ? { models: levelModels } : {}),
            ...(workers > 1
              ? {
                  workers: {
                    pool: (pool ??= createLoadPool(workers)),
                    count: workers,
                    client: { url, protocol, connections: Math.max(16, Math.ceil(inFlightMax / workers)), ...shared },
                  },
                }
              : {}),
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
        if (workersOption === "auto" && workers === 1 && threadBlocker === undefined && clientLimited(level) && load !== plan.loads[plan.loads.length - 1]) {
          workers = AUTO_WORKERS;
          note(`${describeLevel(level, sweeping)}: the bench thread was ${Math.round(level.clientUtilization * 100)}% busy while the server kept up: the next levels run on ${workers} worker threads (--workers auto)`);
        }
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
    for (const p of pipelines) await p.close().catch(() => {});
    await pool?.destroy();
    await client?.close();
    await control?.close();
    await embedded?.stop();
  }
}
