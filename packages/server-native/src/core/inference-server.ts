// The protocol-independent server core that both front ends (HTTP, gRPC) call: health, metadata,
// model configuration, inference, statistics and the model repository (load/unload/index).
import { readFileSync } from "node:fs";
import { BACKENDS, checkInputs, type BackendModel, type PlannedOutput } from "../backends/index.ts";
import type { NativeAddon } from "../native/types.ts";
import { configError } from "../repository/config-decode.ts";
import { fullShape, tensorDataType, type ModelConfig } from "../repository/model-config.ts";
import { listRepositoryModels, readModelDefinition, type ModelDefinition } from "../repository/repository.ts";
import { createInstances } from "../scheduler/instances.ts";
import { FifoScheduler, type Scheduler } from "../scheduler/scheduler.ts";
import { ModelStats, type ModelStatsSnapshot } from "../stats/model-stats.ts";
import { ServerError, invalidArg, toServerError } from "./errors.ts";
import type {
  InferOutput,
  InferRequest,
  InferResponse,
  ModelMetadata,
  ModelState,
  RepositoryIndexEntry,
  ServerMetadata,
  TensorMetadata,
} from "./types.ts";

const SERVER_VERSION: string = (() => {
  try {
    // src/core/ and dist/core/ are both two levels below the package root.
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
})();

/** Triton extension names this server implements completely. */
export const SUPPORTED_EXTENSIONS = ["binary_tensor_data", "model_repository", "model_configuration", "statistics"] as const;

interface LoadedVersion {
  version: string;
  scheduler: Scheduler;
  stats: ModelStats;
}

/** One successful load of a model: its config and running versions. Replaced whole on reload. */
interface LoadedModel {
  config: ModelConfig;
  backend: BackendModel;
  versions: Map<string, LoadedVersion>;
  latest: LoadedVersion;
  metadata: ModelMetadata;
}

interface ModelEntry {
  name: string;
  state: ModelState;
  reason: string;
  current: LoadedModel | undefined;
  /** Last load attempt failed and nothing serves the model: the server is not ready. */
  failed: boolean;
}

export interface InferenceServerOptions {
  modelRepository: string;
  addon: NativeAddon;
  log?: (message: string) => void;
}

function tensorMetadata(config: ModelConfig, t: { name: string; data_type: string; dims: number[] }): TensorMetadata {
  return { name: t.name, datatype: tensorDataType(t.data_type), shape: fullShape(config, t.dims) };
}

export class InferenceServer {
  readonly modelRepository: string;
  private readonly addon: NativeAddon;
  private readonly log: (message: string) => void;
  private readonly models = new Map<string, ModelEntry>();
  /** Per model name: the tail of its load/unload operations, which run one at a time. */
  private readonly chains = new Map<string, Promise<void>>();
  private closing = false;

  constructor(options: InferenceServerOptions) {
    this.modelRepository = options.modelRepository;
    this.addon = options.addon;
    this.log = options.log ?? (() => {});
  }

  // ---- lifecycle ----------------------------------------------------------------------------------

  /** Loads every model of the repository; returns the ones that failed (they stay UNAVAILABLE). */
  async loadAll(): Promise<{ name: string; error: ServerError }[]> {
    const names = await listRepositoryModels(this.modelRepository);
    const failed: { name: string; error: ServerError }[] = [];
    for (const name of names) {
      try {
        await this.loadModel(name);
      } catch (err) {
        failed.push({ name, error: toServerError(err) });
      }
    }
    return failed;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled(this.chains.values());
    await Promise.allSettled([...this.models.values()].map((e) => (e.current ? this.retire(e.current) : undefined)));
    for (const e of this.models.values()) {
      e.current = undefined;
      e.state = "UNAVAILABLE";
      e.reason = "server closed";
    }
  }

  // ---- health and metadata ------------------------------------------------------------------------

  isLive(): boolean {
    return !this.closing;
  }

  isReady(): boolean {
    if (this.closing) return false;
    for (const e of this.models.values()) if (e.failed) return false;
    return true;
  }

  serverMetadata(): ServerMetadata {
    return { name: "iaas", version: SERVER_VERSION, extensions: [...SUPPORTED_EXTENSIONS] };
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const { model } = this.resolve(name, version);
    return model.metadata;
  }

  modelReady(name: string, version?: string): boolean {
    try {
      this.resolve(name, version);
      return true;
    } catch (err) {
      if (err instanceof ServerError && (err.status === "NOT_FOUND" || err.status === "UNAVAILABLE")) return false;
      throw err;
    }
  }

  modelConfig(name: string, version?: string): ModelConfig {
    return structuredClone(this.resolve(name, version).model.config);
  }

  // ---- inference ----------------------------------------------------------------------------------

  /**
   * Runs one request. `receivedAt` (process.hrtime.bigint()) is when the front end started reading it,
   * so the success duration covers the whole time the request spent in the server.
   */
  async infer(request: InferRequest, receivedAt: bigint = process.hrtime.bigint()): Promise<InferResponse> {
    const { model, version } = this.resolve(request.model, request.version);
    try {
      const { inputs, batchSize } = checkInputs(model.config, request.inputs);
      const plan = model.backend.plan(inputs, batchSize);
      const selected = this.selectOutputs(model.config, plan.outputs, request);
      // Nothing above awaits: the version cannot be retired between resolve() and submit().
      const exec = await version.scheduler.submit(plan.native);
      version.stats.recordSuccess(batchSize, process.hrtime.bigint() - receivedAt, exec.queueNs, exec.timings);
      const response: InferResponse = { model_name: model.config.name, model_version: version.version, outputs: selected };
      if (request.id !== undefined && request.id !== "") response.id = request.id;
      return response;
    } catch (err) {
      version.stats.recordFailure(process.hrtime.bigint() - receivedAt);
      throw toServerError(err);
    }
  }

  private selectOutputs(config: ModelConfig, planned: PlannedOutput[], request: InferRequest): InferOutput[] {
    const requested = request.outputs;
    if (requested === undefined || requested.length === 0) return planned.map((o) => ({ ...o }));
    const seen = new Set<string>();
    return requested.map((r) => {
      if (seen.has(r.name)) throw invalidArg(`output '${r.name}' is requested more than once for model '${config.name}'`);
      seen.add(r.name);
      const o = planned.find((p) => p.name === r.name);
      if (o === undefined)
        throw invalidArg(`unexpected inference output '${r.name}' for model '${config.name}'; outputs are: ${config.output.map((c) => c.name).join(", ")}`);
      const out: InferOutput = { name: o.name, datatype: o.datatype, shape: o.shape, data: o.data };
      if (r.parameters !== undefined) out.requested = r.parameters;
      return out;
    });
  }

  // ---- statistics ---------------------------------------------------------------------------------

  statistics(name?: string, version?: string): ModelStatsSnapshot[] {
    if (name === undefined || name === "") {
      if (version !== undefined && version !== "") throw invalidArg("a model version needs a model name for statistics");
      const out: ModelStatsSnapshot[] = [];
      for (const e of [...this.models.values()].sort((a, b) => a.name.localeCompare(b.name)))
        if (e.current) for (const v of e.current.versions.values()) out.push(v.stats.snapshot());
      return out;
    }
    const { model, version: v } = this.resolve(name, version);
    if (version === undefined || version === "") return [...model.versions.values()].map((x) => x.stats.snapshot());
    return [v.stats.snapshot()];
  }

  // ---- model repository ---------------------------------------------------------------------------

  async repositoryIndex(readyOnly = false): Promise<RepositoryIndexEntry[]> {
    const names = new Set([...(await listRepositoryModels(this.modelRepository)), ...this.models.keys()]);
    const out: RepositoryIndexEntry[] = [];
    for (const name of [...names].sort()) {
      const e = this.models.get(name);
      if (e?.current && e.state === "READY") {
        for (const v of e.current.versions.keys()) out.push({ name, version: v, state: "READY", reason: "" });
      } else if (!readyOnly) {
        out.push({ name, state: e?.state ?? "UNAVAILABLE", reason: e?.reason ?? "not loaded" });
      }
    }
    return out;
  }

  /**
   * Loads (or reloads) a model. With `configOverride` (JSON ModelConfig text) that config replaces
   * config.pbtxt. A reload swaps in new instances first; requests already queued on the old instances
   * finish there before those close. If the reload fails the old model keeps serving.
   */
  loadModel(name: string, configOverride?: string): Promise<void> {
    return this.serialise(name, async () => {
      if (this.closing) throw new ServerError("UNAVAILABLE", "server is shutting down");
      let loaded: LoadedModel;
      let entry: ModelEntry | undefined = this.models.get(name);
      try {
        const definition = await readModelDefinition(this.modelRepository, name, configOverride);
        entry = this.entry(name);
        entry.state = "LOADING";
        entry.reason = "";
        loaded = await this.instantiate(definition);
      } catch (err) {
        const error = toServerError(err);
        // A name that is not in the repository leaves no trace; any other failure is recorded on the model.
        if (error.status === "NOT_FOUND" && entry === undefined) throw new ServerError("NOT_FOUND", `failed to load '${name}': ${error.message}`, { cause: err });
        entry ??= this.entry(name);
        entry.state = entry.current ? "READY" : "UNAVAILABLE";
        entry.reason = error.message;
        entry.failed = entry.current === undefined;
        this.log(`failed to load model '${name}': ${error.message}`);
        throw new ServerError(error.status, `failed to load '${name}': ${error.message}`, { cause: err });
      }
      const old = entry.current;
      entry.current = loaded;
      entry.state = "READY";
      entry.failed = false;
      this.log(
        `loaded model '${name}' version(s) ${[...loaded.versions.keys()].join(", ")} (backend ${loaded.config.backend}, ` +
          `${loaded.latest.scheduler.instanceCount} instance(s) per version)`,
      );
      if (old) await this.retire(old);
    });
  }

  unloadModel(name: string): Promise<void> {
    return this.serialise(name, async () => {
      const entry = this.models.get(name);
      if (entry === undefined) {
        const names = await listRepositoryModels(this.modelRepository);
        if (!names.includes(name)) throw new ServerError("NOT_FOUND", `failed to unload '${name}': model is not in the repository`);
        return;
      }
      const old = entry.current;
      entry.current = undefined;
      entry.failed = false;
      entry.state = "UNLOADING";
      if (old) await this.retire(old);
      entry.state = "UNAVAILABLE";
      entry.reason = "unloaded";
      this.log(`unloaded model '${name}'`);
    });
  }

  // ---- internals ----------------------------------------------------------------------------------

  private entry(name: string): ModelEntry {
    let e = this.models.get(name);
    if (e === undefined) {
      e = { name, state: "UNAVAILABLE", reason: "not loaded", current: undefined, failed: false };
      this.models.set(name, e);
    }
    return e;
  }

  private serialise(name: string, task: () => Promise<void>): Promise<void> {
    const run = (this.chains.get(name) ?? Promise.resolve()).then(task);
    this.chains.set(name, run.catch(() => {}));
    return run;
  }

  private async instantiate(def: ModelDefinition): Promise<LoadedModel> {
    const { config, locator } = def;
    const backend = BACKENDS.get(config.backend);
    if (backend === undefined)
      throw configError(locator.at("backend"), `unknown backend '${config.backend}'; available backends: ${[...BACKENDS.keys()].join(", ")}`);
    if (config.dynamic_batching !== undefined)
      throw configError(
        locator.at("dynamic_batching"),
        "dynamic batching is not implemented yet in iaas server-native (each request executes alone); remove dynamic_batching",
      );
    const backendModel = backend.load(config, locator);
    // Report what KIND_AUTO resolved to, as Triton's config endpoint does.
    const info = this.addon.backendInfo();
    const cuda = info.available.includes("cuda");
    for (const g of config.instance_group) {
      if (g.kind === "KIND_AUTO") g.kind = cuda ? "KIND_GPU" : "KIND_CPU";
      if (g.kind === "KIND_GPU" && g.gpus.length === 0 && cuda) g.gpus = info.gpus.map((gpu) => gpu.id);
    }
    const versions = new Map<string, LoadedVersion>();
    try {
      for (const v of def.versions) {
        const key = String(v);
        const instances = await createInstances(this.addon, config, locator, backendModel.instanceOptions);
        versions.set(key, { version: key, scheduler: new FifoScheduler(config.name, instances), stats: new ModelStats(config.name, key) });
      }
    } catch (err) {
      await Promise.allSettled([...versions.values()].map((v) => v.scheduler.retire()));
      throw err;
    }
    const latest = versions.get(String(def.versions[def.versions.length - 1]))!;
    const metadata: ModelMetadata = {
      name: config.name,
      versions: [...versions.keys()],
      platform: config.platform || config.backend,
      inputs: config.input.map((t) => tensorMetadata(config, t)),
      outputs: config.output.map((t) => tensorMetadata(config, t)),
    };
    return { config, backend: backendModel, versions, latest, metadata };
  }

  private async retire(model: LoadedModel): Promise<void> {
    await Promise.allSettled([...model.versions.values()].map((v) => v.scheduler.retire()));
  }

  private resolve(name: string, version?: string): { model: LoadedModel; version: LoadedVersion } {
    const entry = this.models.get(name);
    if (entry === undefined) throw new ServerError("NOT_FOUND", `Request for unknown model: '${name}' is not found`);
    const model = entry.current;
    if (model === undefined)
      throw new ServerError("UNAVAILABLE", `Request for unknown model: '${name}' is not ready (${entry.state.toLowerCase()}${entry.reason ? `: ${entry.reason}` : ""})`);
    if (version === undefined || version === "") return { model, version: model.latest };
    if (!/^\d+$/.test(version)) throw invalidArg(`model version must be a positive integer, got '${version}' for model '${name}'`);
    const v = model.versions.get(String(Number(version)));
    if (v === undefined)
      throw new ServerError("NOT_FOUND", `Request for unknown model: '${name}' version ${version} is not found (served: ${[...model.versions.keys()].join(", ")})`);
    return { model, version: v };
  }
}
