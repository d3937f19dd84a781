// The programmatic benchmark: a concurrency sweep against one model, perf_analyzer style.
// The `iaas bench` command is this plus a table on stdout and a JSON file.
import { createClient, InferenceError, type InferenceClient, type InferOptions, type Protocol } from "@iaas/client";
import { startEmbeddedServer, type EmbeddedServer } from "./embedded-server.ts";
import { buildInputs, fetchModelInfo, type InputOptions, type ModelInfo } from "./inputs/index.ts";
import { measurementSettings, runLevel, type LevelResult, type MeasurementOptions } from "./load/level.ts";
import type { WindowStats } from "./load/window.ts";
import { parseRange } from "./range.ts";
import { VERSION } from "./version.ts";

export const DEFAULT_MODEL = "simple";

export interface BenchOptions extends MeasurementOptions, InputOptions {
  /** Server to load. Absent: an embedded reference server is started as a child process and stopped after. */
  url?: string;
  /** Default "http". */
  protocol?: Protocol;
  /** Default "simple". */
  model?: string;
  modelVersion?: string;
  /** Levels, or a range expression ("1..64", "4..32:4", "8"). Default [1]. */
  concurrency?: number[] | string;
  /** Model repository of the embedded server (its default repository when absent). */
  modelRepository?: string;
  /** Headers / metadata sent with every request. */
  headers?: Record<string, string>;
  /** HTTP: send tensors in JSON instead of the binary extension. */
  jsonTensors?: boolean;
  /** Aborting ends the sweep after stopping the current level; the result has interrupted: true. */
  signal?: AbortSignal;
}

export interface BenchHooks {
  /** The server is reachable and the inputs are built; nothing measured yet. */
  onStart?: (result: BenchResult) => void;
  onWindow?: (concurrency: number, stats: WindowStats, index: number) => void;
  /** A level finished; `result.levels` includes it. */
  onLevel?: (level: LevelResult, result: BenchResult) => void;
}

export interface BenchResult {
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
  settings: Required<MeasurementOptions> & { concurrency: number[]; inputData: string; seed: number };
  levels: LevelResult[];
  /** Every requested level was measured. */
  complete: boolean;
  /** The sweep was stopped by the caller's signal (SIGINT for the CLI). */
  interrupted: boolean;
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

function levelFailure(level: LevelResult): string {
  const parts = Object.entries(level.errors).map(([code, n]) => `${code} x${n}: ${level.errorMessages[code] ?? ""}`.trim());
  return `every request failed at concurrency ${level.concurrency} (${parts.join("; ")})`;
}

export async function bench(options: BenchOptions = {}, hooks: BenchHooks = {}): Promise<BenchResult> {
  const settings = measurementSettings(options);
  const levels = typeof options.concurrency === "string" ? parseRange(options.concurrency) : (options.concurrency ?? [1]);
  for (const c of levels) if (!Number.isSafeInteger(c) || c < 1) throw new RangeError(`concurrency levels must be positive integers, got ${c}`);
  const protocol = options.protocol ?? "http";
  if (protocol !== "http" && protocol !== "grpc") throw new RangeError(`protocol must be "http" or "grpc", got "${String(protocol)}"`);
  const model = options.model ?? DEFAULT_MODEL;
  const signal = options.signal;

  let embedded: EmbeddedServer | undefined;
  let client: InferenceClient | undefined;
  try {
    let url = options.url;
    if (url === undefined) {
      embedded = await startEmbeddedServer(options.modelRepository === undefined ? {} : { modelRepository: options.modelRepository });
      url = protocol === "grpc" ? embedded.grpcUrl : embedded.httpUrl;
    }
    const maxLevel = Math.max(...levels);
    client = createClient({
      url,
      protocol,
      // One HTTP connection per in-flight request: a shared connection would serialise them.
      connections: Math.max(64, maxLevel),
      ...(options.headers ? { headers: options.headers } : {}),
    });

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

    const result: BenchResult = {
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
      settings: { ...settings, concurrency: levels, inputData: options.data ?? "zero", seed: options.seed ?? 1 },
      levels: [],
      complete: false,
      interrupted: false,
    };
    hooks.onStart?.(result);

    const inferOptions: InferOptions = {};
    if (options.modelVersion !== undefined) inferOptions.version = options.modelVersion;
    if (options.jsonTensors) {
      inferOptions.binaryInputs = false;
      inferOptions.binaryOutputs = false;
    }
    for (const concurrency of levels) {
      let level: LevelResult;
      try {
        level = await runLevel({
          ...settings,
          client,
          model,
          inputs: built.tensors,
          batchSize: built.batchSize,
          inferOptions,
          concurrency,
          ...(signal ? { signal } : {}),
          ...(hooks.onWindow ? { onWindow: (s, i) => hooks.onWindow!(concurrency, s, i) } : {}),
        });
      } catch (err) {
        if (signal?.aborted) {
          result.interrupted = true;
          break;
        }
        throw new BenchError(`concurrency ${concurrency}: ${describeError(err)}`, result, { cause: err });
      }
      result.levels.push(level);
      hooks.onLevel?.(level, result);
      if (level.requests === 0 && level.errorCount > 0) throw new BenchError(levelFailure(level), result);
    }
    result.complete = result.levels.length === levels.length;
    result.finishedAt = new Date().toISOString();
    return result;
  } finally {
    await client?.close();
    await embedded?.stop();
  }
}
