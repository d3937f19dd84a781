// The protocol-independent server core that both front ends (HTTP, gRPC) call: health, metadata,
// model configuration, inference, statistics and the model repository (load/unload/index).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BACKENDS, checkInputs, type ExecutionPlan, type PlannedOutput } from "../backends/index.ts";
import { isDecoupledModel, type AnyBackendModel } from "../backends/js-backend.ts";
import { checkBackendKind, createScheduler, type InstancePlacement } from "../scheduler/create-scheduler.ts";
import { DecoupledScheduler } from "../scheduler/decoupled-scheduler.ts";
import { inferDecoupled } from "./decoupled-infer.ts";
import { sequenceRequest } from "./sequence-parameters.ts";
import type { NativeAddon } from "../native/types.ts";
import { configError } from "../repository/config-decode.ts";
import { fullShape, tensorDataType, type ModelConfig } from "../repository/model-config.ts";
import { listRepositoryModels, readModelDefinition, type ModelDefinition } from "../repository/repository.ts";
import { writeOverrideRepository, type FileOverride, type OverrideRepository } from "../repository/file-overrides.ts";
import { readLabels } from "../repository/labels.ts";
import { classCount, classify } from "./classification.ts";
import { ExtensionSet } from "./extensions.ts";
import type { ModelControl } from "./model-control.ts";
import { ServerLogger, type LogFn, type LogSettingValues } from "./log-settings.ts";
import { customParameters, schedulingParameters } from "./request-parameters.ts";
import { TraceSettings, type TraceSettingValues } from "./trace-settings.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { QueueRejection } from "../scheduler/queue-policy.ts";
import { submitOptions } from "../scheduler/submit-options.ts";
import { ModelStats, type ModelStatsSnapshot } from "../stats/model-stats.ts";
import { failureReason } from "../metrics/failure-reason.ts";
import { recordInferSpans } from "../tracing/infer-spans.ts";
import { bindSharedMemory, type SharedMemoryBinding } from "../shared-memory/request-binding.ts";
import { SystemSharedMemory } from "../shared-memory/system-shared-memory.ts";
import type { HostPolicies } from "../scheduler/host-policy.ts";
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
export const SUPPORTED_EXTENSIONS = [
  "binary_tensor_data",
  "model_repository",
  "model_configuration",
  "statistics",
  "model_repository(unload_dependents)",
  "classification",
  "parameters",
  "trace",
  "logging",
  "sequence",
] as const;

interface LoadedVersion {
  version: string;
  scheduler: Scheduler;
  stats: ModelStats;
  /** Where each instance runs (device bound for the instance's lifetime). */
  placements: InstancePlacement[];
}

/** One successful load of a model: its config and running versions. Replaced whole on reload. */
interface LoadedModel {
  config: ModelConfig;
  backend: AnyBackendModel;
  versions: Map<string, LoadedVersion>;
  latest: LoadedVersion;
  metadata: ModelMetadata;
  /** Classification labels per output (from label_filename). */
  labels: Map<string, string[]>;
  /** The temporary repository of a load with file overrides; deleted when this load is retired. */
  overrides?: OverrideRepository;
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
  /** Receives each formatted log line while log_file is unset (see log-settings.ts). Default: drop. */
  log?: (line: string) => void;
  /** Triton extensions to advertise and serve (default: all of SUPPORTED_EXTENSIONS). */
  extensions?: readonly string[];
  /** Initial log settings (logging extension). */
  logSettings?: Partial<LogSettingValues>;
  /** Initial global trace settings (trace extension). */
  traceSettings?: Partial<TraceSettingValues>;
  /** Let POST v2/logging and v2/trace/setting change log_file / trace_file. Default false. */
  allowFileSettings?: boolean;
  /** Enables the system_shared_memory extension (register POSIX shared memory, tensors by region). Default false. */
  systemSharedMemory?: boolean;
  /** Triton's host policies: instance groups name one with host_policy to bind their threads to its cores. */
  hostPolicies?: HostPolicies;
}

function tensorMetadata(config: ModelConfig, t: { name: string; data_type: string; dims: number[] }): TensorMetadata {
  return { name: t.name, datatype: tensorDataType(t.data_type), shape: fullShape(config, t.dims) };
}

export class InferenceServer {
  readonly modelRepository: string;
  private readonly addon: NativeAddon;
  private readonly hostPolicies: HostPolicies;
  /** Enabled protocol extensions; front ends consult it before serving an extension's endpoint. */
  readonly extensions: ExtensionSet;
  /** Trace extension settings and per-request sampling. */
  readonly trace: TraceSettings;
  /** Logging extension settings; `logger.log` is the server's log function. */
  readonly logger: ServerLogger;
  private readonly log: LogFn;
  private readonly models = new Map<string, ModelEntry>();
  /** Per model name: the tail of its load/unload operations, which run one at a time. */
  private readonly chains = new Map<string, Promise<void>>();
  private closing = false;
  /** The region registry when the system_shared_memory extension is enabled. */
  readonly systemSharedMemory: SystemSharedMemory | undefined;
  /** Model control mode (startServer sets it): decides whether the repository API may load/unload. */
  modelControl: ModelControl | undefined;

  constructor(options: InferenceServerOptions) {
    this.modelRepository = options.modelRepository;
    this.addon = options.addon;
    this.hostPolicies = options.hostPolicies ?? {};
    this.extensions = new ExtensionSet(SUPPORTED_EXTENSIONS, options.extensions);
    this.logger = new ServerLogger({ sink: options.log, initial: options.logSettings, allowFileSettings: options.allowFileSettings });
    this.trace = new TraceSettings({ initial: options.traceSettings, allowFileSettings: options.allowFileSettings });
    this.log = this.logger.log;
    this.systemSharedMemory = options.systemSharedMemory === true ? new SystemSharedMemory(options.addon) : undefined;
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
    await this.modelControl?.stop();
    await Promise.allSettled(this.chains.values());
    await Promise.allSettled([...this.models.values()].map((e) => (e.current ? this.retire(e.current) : undefined)));
    for (const e of this.models.values()) {
      e.current = undefined;
      e.state = "UNAVAILABLE";
      e.reason = "server closed";
    }
    this.systemSharedMemory?.close();
    this.logger.close();
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
    const extensions: string[] = this.extensions.list();
    if (this.systemSharedMemory) extensions.push("system_shared_memory");
    return { name: "iaas", version: SERVER_VERSION, extensions };
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

  /** The instances of a model version (default: latest) and the device each is bound to. */
  modelInstances(name: string, version?: string): InstancePlacement[] {
    return this.resolve(name, version).version.placements.map((p) => ({ ...p }));
  }

  /** Requests the dynamic batcher's queue refused for a model version, per reason (see ModelStats.queueRejections). */
  queueRejections(name: string, version?: string): { queue_full: number; timeout: number } {
    return this.resolve(name, version).version.stats.queueRejections();
  }

  // ---- inference ----------------------------------------------------------------------------------

  /**
   * Runs one request. `receivedAt` (process.hrtime.bigint()) is when the front end started reading it,
   * so the success duration covers the whole time the request spent in the server.
   */
  async infer(request: InferRequest, receivedAt: bigint = process.hrtime.bigint()): Promise<InferResponse> {
    const { model, version } = this.resolve(request.model, request.version);
    const backend = model.backend;
    if (isDecoupledModel(backend))
      throw new ServerError(
        "UNSUPPORTED",
        `model '${model.config.name}' uses the decoupled transaction policy: unary inference (HTTP infer, gRPC ModelInfer) cannot return its responses; use the gRPC ModelStreamInfer stream`,
      );
    const traceLevels = this.trace.sample(model.config.name);
    if (traceLevels !== undefined) request.traceLevels = traceLevels;
    if (this.logger.verboseEnabled(2)) this.log(`infer: model '${model.config.name}' version ${version.version}, request id '${request.id ?? ""}'`, 2);
    let shm: SharedMemoryBinding | undefined;
    try {
      shm = bindSharedMemory(this.systemSharedMemory, request);
      const scheduling = schedulingParameters(request.parameters);
      if (scheduling.priority !== undefined) request.priority = scheduling.priority;
      if (scheduling.timeoutUs !== undefined) request.timeoutUs = scheduling.timeoutUs;
      const { inputs, batchSize } = checkInputs(model.config, request.inputs);
      const plan = backend.plan(inputs, batchSize);
      const sequence = model.config.sequence_batching === undefined ? undefined : sequenceRequest(model.config.name, request.parameters, batchSize);
      const selected = this.selectOutputs(model.config, plan.outputs, request);
      const classes = this.classifications(model.config, plan, request);
      shm?.placeOutputs(plan.native, selected);
      // Nothing above awaits: the version cannot be retired between resolve() and submit().
      // Requests touching shared memory run alone: a merged batch's overlap check spans every request.
      // Counted as pending while the scheduler holds it (metrics gauge); a plain try/finally around the await
      // costs no extra promise per request.
      const stats = version.stats;
      stats.pending++;
      let exec;
      try {
        exec = await version.scheduler.submit(plan.native, sequence, submitOptions(model.config, inputs, batchSize, request, shm !== undefined));
      } finally {
        stats.pending--;
      }
      this.finishOutputs(model, plan, selected, classes);
      shm?.finish();
      const end = process.hrtime.bigint();
      version.stats.recordSuccess(batchSize, end - receivedAt, exec.queueNs, exec.timings, true, exec.execution);
      if (request.traceLevels !== undefined) recordInferSpans(request, { model: model.config.name, version: version.version, batchSize, exec }, receivedAt, end);
      const response: InferResponse = { model_name: model.config.name, model_version: version.version, outputs: selected };
      if (request.id !== undefined && request.id !== "") response.id = request.id;
      const custom = customParameters(request.parameters);
      if (custom !== undefined) response.parameters = custom;
      return response;
    } catch (err) {
      if (err instanceof QueueRejection) version.stats.recordQueueRejection(err.rejectReason);
      version.stats.recordFailure(process.hrtime.bigint() - receivedAt);
      const error = toServerError(err);
      version.stats.countFailure(failureReason(error, err));
      if (request.traceLevels !== undefined) recordInferSpans(request, { model: model.config.name, version: version.version, error }, receivedAt, process.hrtime.bigint());
      throw error;
    } finally {
      // Only now has the native execution settled: the regions may be unmapped after this.
      shm?.release();
    }
  }

  /** Whether the model (version) is decoupled: its requests go through inferDecoupled, over a stream. */
  isDecoupled(name: string, version?: string): boolean {
    return isDecoupledModel(this.resolve(name, version).model.backend);
  }

  /**
   * Runs one request of a decoupled model (gRPC ModelStreamInfer): `onResponse` is called once per
   * response; the promise resolves when the model sent its final flag and rejects with a ServerError
   * (status CANCELLED once `signal` aborted: nothing more is sent).
   */
  inferDecoupled(
    request: InferRequest,
    receivedAt: bigint,
    onResponse: (response: InferResponse) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const { model, version } = this.resolve(request.model, request.version);
    const runner = version.scheduler;
    if (!(runner instanceof DecoupledScheduler)) return Promise.reject(invalidArg(`model '${model.config.name}' is not decoupled; use infer`));
    const traceLevels = this.trace.sample(model.config.name);
    if (traceLevels !== undefined) request.traceLevels = traceLevels;
    const target = { config: model.config, version: version.version, runner, stats: version.stats, select: this.selectOutputs.bind(this, model.config) };
    return inferDecoupled(target, request, receivedAt, onResponse, signal);
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

  /**
   * The class count of each output requested with the classification parameter, checked before
   * anything executes (enabled extension, numeric output, not written to shared memory).
   */
  private classifications(config: ModelConfig, plan: ExecutionPlan, request: InferRequest): Map<string, number> | undefined {
    let out: Map<string, number> | undefined;
    for (const r of request.outputs ?? []) {
      if (plan.finish && r.sharedMemory)
        throw invalidArg(`output '${r.name}' of model '${config.name}' is computed after the execution and cannot be written to shared memory`);
      const count = classCount(r.parameters, r.name);
      if (count === undefined) continue;
      if (!this.extensions.has("classification"))
        throw new ServerError("UNSUPPORTED", `output '${r.name}': the classification extension is not enabled on this server`);
      if (plan.outputs.find((p) => p.name === r.name)?.datatype === "BYTES")
        throw invalidArg(`output '${r.name}' of model '${config.name}' is BYTES; classification needs a numeric output`);
      if (r.sharedMemory) throw invalidArg(`output '${r.name}': classification results cannot be written to shared memory`);
      (out ??= new Map()).set(r.name, count);
    }
    return out;
  }

  /** After execution: outputs a backend converts (plan.finish), then the classified ones. */
  private finishOutputs(model: LoadedModel, plan: ExecutionPlan, selected: InferOutput[], classes: Map<string, number> | undefined): void {
    if (plan.finish) {
      const produced = plan.finish();
      for (const o of selected) {
        const p = produced.find((x) => x.name === o.name);
        if (p !== undefined && o.sharedMemory === undefined) Object.assign(o, { datatype: p.datatype, shape: p.shape, data: p.data });
      }
    }
    if (classes === undefined) return;
    const batched = model.config.max_batch_size > 0;
    for (const o of selected) {
      const n = classes.get(o.name);
      if (n !== undefined) Object.assign(o, classify(o, n, batched, model.labels.get(o.name)));
    }
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

  /** The live statistics of every served model version, by model name then version (for /metrics). */
  versionStats(): ModelStats[] {
    const out: ModelStats[] = [];
    for (const e of [...this.models.values()].sort((a, b) => a.name.localeCompare(b.name)))
      if (e.current) for (const v of e.current.versions.values()) out.push(v.stats);
    return out;
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
   * config.pbtxt. With `files` (Triton's "file:<path>" load parameters, which need a config override)
   * the model is loaded from a temporary directory holding only those files, whether or not the
   * repository has the model. A reload swaps in new instances first; requests already queued on the old
   * instances finish there before those close. If the reload fails the old model keeps serving.
   */
  loadModel(name: string, configOverride?: string, files?: readonly FileOverride[]): Promise<void> {
    return this.serialise(name, async () => {
      if (this.closing) throw new ServerError("UNAVAILABLE", "server is shutting down");
      let loaded: LoadedModel;
      let entry: ModelEntry | undefined = this.models.get(name);
      let overrides: OverrideRepository | undefined;
      try {
        if (files !== undefined && files.length > 0) {
          if (configOverride === undefined)
            throw invalidArg(`file overrides (${files.map((f) => `'file:${f.path}'`).join(", ")}) need the 'config' load parameter as well`);
          overrides = await writeOverrideRepository(name, files);
        }
        const root = overrides?.root ?? this.modelRepository;
        const definition = await readModelDefinition(root, name, configOverride);
        entry = this.entry(name);
        entry.state = "LOADING";
        entry.reason = "";
        loaded = await this.instantiate(definition, join(root, name));
        if (overrides) loaded.overrides = overrides;
        if (this.logger.verboseEnabled(1))
          this.log(`model '${name}' loaded from ${root}${configOverride !== undefined ? " with a config override" : ""}${files?.length ? ` and ${files.length} override file(s)` : ""}`, 1);
      } catch (err) {
        await overrides?.remove();
        const error = toServerError(err);
        // A name that is not in the repository leaves no trace; any other failure is recorded on the model.
        if (error.status === "NOT_FOUND" && entry === undefined) throw new ServerError("NOT_FOUND", `failed to load '${name}': ${error.message}`, { cause: err });
        entry ??= this.entry(name);
        entry.state = entry.current ? "READY" : "UNAVAILABLE";
        entry.reason = error.message;
        entry.failed = entry.current === undefined;
        this.log(`failed to load model '${name}': ${error.message}`, "error");
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

  /**
   * Unloads a model. `unloadDependents` (Triton's unload_dependents) also unloads models loaded along with
   * it, such as an ensemble's composing models; iaas has no such dependencies, so it changes nothing.
   */
  unloadModel(name: string, _options: { unloadDependents?: boolean } = {}): Promise<void> {
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

  private async instantiate(def: ModelDefinition, modelDir: string): Promise<LoadedModel> {
    const { config, locator } = def;
    const backend = BACKENDS.get(config.backend);
    if (backend === undefined)
      throw configError(locator.at("backend"), `unknown backend '${config.backend}'; available backends: ${[...BACKENDS.keys()].join(", ")}`);
    const backendModel = backend.load(config, locator);
    checkBackendKind(config, locator, backendModel);
    const labels = await readLabels(config, modelDir, locator);
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
        const { scheduler, memoryUsage, placements } = await createScheduler(this.addon, config, locator, backendModel, this.hostPolicies);
        versions.set(key, { version: key, scheduler, stats: new ModelStats(config.name, key, memoryUsage), placements });
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
    return { config, backend: backendModel, versions, latest, metadata, labels };
  }

  private async retire(model: LoadedModel): Promise<void> {
    await Promise.allSettled([...model.versions.values()].map((v) => v.scheduler.retire()));
    await model.overrides?.remove();
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
