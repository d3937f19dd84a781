// Public API of @iaas/server-native.
export { startServer, DEFAULT_MODEL_REPOSITORY, type StartServerOptions, type RunningServer } from "./server.ts";
export { InferenceServer, SUPPORTED_EXTENSIONS, type InferenceServerOptions } from "./core/inference-server.ts";
export { ServerError, type ServerErrorStatus } from "./core/errors.ts";
export { MODEL_CONTROL_MODES, ModelControl, type ModelControlMode, type ModelControlOptions } from "./core/model-control.ts";
export type { InstancePlacement } from "./scheduler/create-scheduler.ts";
export { parseHostPolicies, parseCpuCores, type HostPolicy, type HostPolicies } from "./scheduler/host-policy.ts";
export {
  TraceSettings,
  TRACE_LEVELS,
  DEFAULT_TRACE_SETTINGS,
  type TraceLevel,
  type TraceSettingValues,
  type TraceSettingsWire,
} from "./core/trace-settings.ts";
export { ServerLogger, DEFAULT_LOG_SETTINGS, LOG_FORMATS, type LogSettingValues, type LogFn, type LogLevel } from "./core/log-settings.ts";
export type { SharedMemoryRef, SharedMemoryRegionStatus, SystemSharedMemory } from "./shared-memory/system-shared-memory.ts";
export type { ServerTlsOptions, Pem } from "./security/tls.ts";
export type { ServerAuthOptions, AuthRequest } from "./security/auth.ts";
export type * from "./core/types.ts";
export type { ModelConfig } from "./repository/model-config.ts";
export type { ModelStatsSnapshot } from "./stats/model-stats.ts";
export { DEFAULT_METRICS_PORT } from "./metrics/metrics-server.ts";
export { FAILURE_REASONS, type FailureReason } from "./metrics/failure-reason.ts";
export { INFER_SPAN_NAME, SERVER_TRACER_NAME } from "./tracing/infer-spans.ts";
export type { BackendInfo, DeviceKind, GpuInfo } from "./native/types.ts";
export { generateDenseLayers, denseForward, type DenseLayer } from "./backends/dense-mlp-weights.ts";

/** What the native addon was built with and can use on this machine (CPU, CUDA devices). */
export { backendInfo } from "./native/addon.ts";
