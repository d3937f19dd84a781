// Starts the whole server: the core with every model of the repository loaded, and the HTTP and
// gRPC front ends on top of it.
import { fileURLToPath } from "node:url";
import { InferenceServer } from "./core/inference-server.ts";
import { checkModelControlOptions, ModelControl, type ModelControlMode } from "./core/model-control.ts";
import type { LogSettingValues } from "./core/log-settings.ts";
import type { TraceSettingValues } from "./core/trace-settings.ts";
import { MAX_GRPC_MESSAGE_BYTES, startGrpcFrontend, type GrpcFrontend } from "./frontends/grpc/grpc-server.ts";
import { DEFAULT_MAX_BODY_BYTES, startHttpFrontend, type HttpFrontend } from "./frontends/http/http-server.ts";
import { loadNativeAddon } from "./native/addon.ts";
import { cudaDeviceCount, metricsPortFor, startMetricsServer, type MetricsServer } from "./metrics/metrics-server.ts";
import { createAuthenticator, type ServerAuthOptions } from "./security/auth.ts";
import { resolveTls, type ServerTlsOptions } from "./security/tls.ts";
import type { HostPolicies } from "./scheduler/host-policy.ts";

/** The models shipped with the package (simple, identity_*, dense_mlp); resolves from src/ and dist/ alike. */
export const DEFAULT_MODEL_REPOSITORY: string = fileURLToPath(new URL("../models/", import.meta.url)).replace(/[\\/]$/, "");

export interface StartServerOptions {
  /** Triton-layout model repository; every model in it is loaded at start. Default: DEFAULT_MODEL_REPOSITORY. */
  modelRepository?: string;
  /** Interface for both front ends. Default "127.0.0.1". */
  host?: string;
  /** HTTP/REST port; 0 picks a free one. Default 8000. */
  httpPort?: number;
  /** gRPC port; 0 picks a free one. Default 8001. */
  grpcPort?: number;
  /** Largest accepted HTTP request body (also after decompression). Default 64 MiB. */
  maxBodyBytes?: number;
  /** Largest accepted gRPC request message (RESOURCE_EXHAUSTED above it). Default 2 GiB - 1 (grpc-js's ceiling, as Triton). */
  maxGrpcReceiveBytes?: number;
  /**
   * How long close() waits for requests and streams in flight before cutting their connections, in ms
   * (Triton's --exit-timeout-secs). Default 2000.
   */
  shutdownGraceMs?: number;
  /**
   * Triton's --model-control-mode: "none" loads every model and refuses API load/unload; "explicit" loads
   * `loadModels` and allows the API; "poll" loads every model and rescans the repository every
   * `repositoryPollSecs` (API refused). Default "explicit".
   */
  modelControlMode?: ModelControlMode;
  /** explicit mode: models to load at start ("*" = all; Triton's --load-model). Default: every model. */
  loadModels?: string[];
  /** poll mode: seconds between repository scans. Default 15. */
  repositoryPollSecs?: number;
  /** Reject start when a repository model fails to load (as Triton's exit-on-error). Default true. */
  strictModelLoad?: boolean;
  /** TLS on both ports (mutual TLS when `tls.ca` is set); see ServerTlsOptions. Default: plaintext. */
  tls?: ServerTlsOptions;
  /** Require credentials on both ports (401 / UNAUTHENTICATED otherwise); see ServerAuthOptions. Default: none. */
  auth?: ServerAuthOptions;
  /**
   * Triton's system_shared_memory extension: "system" lets clients register POSIX shared-memory regions
   * and pass tensors by region; "none" refuses both. Default "none" (as Triton, it maps memory named by clients).
   */
  sharedMemory?: "system" | "none";
  /**
   * Triton's --host-policy: named CPU core sets, e.g. `{ core0: { cpuCores: [0] } }`; an instance group
   * with `host_policy: "core0"` runs its instance threads on those cores only (Linux). Default: none.
   */
  hostPolicies?: HostPolicies;
  /**
   * Receives each log line (model loads, listening addresses, internal errors; formatted and filtered by
   * the log settings, see logSettings) while no log_file is set. Default: silent.
   */
  log?: (message: string) => void;
  /**
   * Triton protocol extensions to advertise in server metadata and serve (names from SUPPORTED_EXTENSIONS).
   * The endpoints of the others answer HTTP 404 / gRPC UNIMPLEMENTED, as on a KServe or MLServer server;
   * without binary_tensor_data, HTTP is JSON-only and gRPC answers with typed contents. Default: all.
   */
  extensions?: string[];
  /** Initial settings of the logging extension (log_info, log_verbose_level, log_format, ...). Default: Triton's. */
  logSettings?: Partial<LogSettingValues>;
  /** Initial global settings of the trace extension (trace_level, trace_rate, trace_count, ...). Default: Triton's. */
  traceSettings?: Partial<TraceSettingValues>;
  /** Let POST v2/logging / v2/trace/setting change log_file / trace_file (paths the server writes). Default false. */
  allowFileSettings?: boolean;
  /** Serve Prometheus metrics (GET /metrics, Triton's metric names) on their own port. Default true. */
  metrics?: boolean;
  /** Metrics port; 0 picks a free one. Default 8002, or 0 when httpPort is 0 (servers on free ports never collide on 8002). */
  metricsPort?: number;
}

export interface RunningServer {
  httpPort: number;
  grpcPort: number;
  /** e.g. "http://127.0.0.1:8000" ("https://..." with TLS) */
  httpUrl: string;
  /** e.g. "127.0.0.1:8001" ("grpcs://127.0.0.1:8001" with TLS) */
  grpcUrl: string;
  server: InferenceServer;
  /** The metrics port, and e.g. "http://127.0.0.1:8002/metrics" (always plain HTTP); undefined with `metrics: false`. */
  metricsPort?: number;
  metricsUrl?: string;
  /** Stops both front ends, lets in-flight requests finish, and frees every model instance. */
  close(): Promise<void>;
}

function checkByteLimit(name: string, value: number | undefined, max: number): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && value > 0 && value <= max))
    throw new Error(`startServer: ${name} must be an integer number of bytes between 1 and ${max}, got ${value}`);
}

const urlHost = (host: string): string => (host.includes(":") ? `[${host}]` : host);

export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? (() => {});
  // Checked before anything starts, so bad TLS material or auth settings fail fast with their own message.
  const tls = options.tls === undefined ? undefined : resolveTls(options.tls);
  const auth = options.auth === undefined ? undefined : createAuthenticator(options.auth);
  const addon = loadNativeAddon();
  checkByteLimit("maxBodyBytes", options.maxBodyBytes, Number.MAX_SAFE_INTEGER);
  checkByteLimit("maxGrpcReceiveBytes", options.maxGrpcReceiveBytes, MAX_GRPC_MESSAGE_BYTES);
  const graceMs = options.shutdownGraceMs ?? 2000;
  if (!(Number.isFinite(graceMs) && graceMs >= 0)) throw new Error(`startServer: shutdownGraceMs must be a number of milliseconds >= 0, got ${graceMs}`);
  checkModelControlOptions({ mode: options.modelControlMode, loadModels: options.loadModels, pollSecs: options.repositoryPollSecs });
  const sharedMemory = options.sharedMemory ?? "none";
  if (sharedMemory !== "system" && sharedMemory !== "none")
    throw new Error(`startServer: sharedMemory must be "system" or "none", got ${JSON.stringify(sharedMemory)}`);
  const server = new InferenceServer({
    modelRepository: options.modelRepository ?? DEFAULT_MODEL_REPOSITORY,
    addon,
    log,
    systemSharedMemory: sharedMemory === "system",
    extensions: options.extensions,
    logSettings: options.logSettings,
    traceSettings: options.traceSettings,
    allowFileSettings: options.allowFileSettings,
    hostPolicies: options.hostPolicies,
  });
  let http: HttpFrontend | undefined;
  let grpc: GrpcFrontend | undefined;
  let metrics: MetricsServer | undefined;
  try {
    server.modelControl = new ModelControl(server, { mode: options.modelControlMode, loadModels: options.loadModels, pollSecs: options.repositoryPollSecs });
    const failed = await server.modelControl.start();
    if (failed.length > 0 && options.strictModelLoad !== false)
      throw new Error(`model repository '${server.modelRepository}': ${failed.map((f) => f.error.message).join("; ")}`);
    http = await startHttpFrontend(server, { host, port: options.httpPort ?? 8000, maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, tls, auth, log: server.logger.log });
    grpc = await startGrpcFrontend(server, { host, port: options.grpcPort ?? 8001, tls, auth, log: server.logger.log, maxReceiveBytes: options.maxGrpcReceiveBytes });
    if (options.metrics !== false) metrics = await startMetricsServer(server, { host, port: metricsPortFor(options), gpuCount: cudaDeviceCount(addon), log: server.logger.log });
  } catch (err) {
    await Promise.allSettled([http?.close(), grpc?.close(), metrics?.close()]);
    await server.close();
    throw err;
  }
  const [h, g] = [http, grpc];
  let closing: Promise<void> | undefined;
  return {
    httpPort: h.port,
    grpcPort: g.port,
    httpUrl: `${tls ? "https" : "http"}://${urlHost(host)}:${h.port}`,
    grpcUrl: `${tls ? "grpcs://" : ""}${urlHost(host)}:${g.port}`,
    server,
    ...(metrics ? { metricsPort: metrics.port, metricsUrl: `http://${urlHost(host)}:${metrics.port}/metrics` } : {}),
    close: () =>
      (closing ??= (async () => {
        await Promise.allSettled([h.close(graceMs), g.close(graceMs), metrics?.close()]);
        await server.close();
      })()),
  };
}
