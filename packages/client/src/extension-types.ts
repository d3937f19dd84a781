// Public types of Triton's protocol extensions beyond inference: statistics details, the model
// repository, trace settings and log settings. Field names follow the wire (snake_case), as ModelStatistics.
import type { CallOptions, StatisticDuration } from "./api.ts";

/** Triton's InferResponseStatistics: per response index, how responses went. */
export interface InferResponseStatistics {
  compute_infer: StatisticDuration;
  compute_output: StatisticDuration;
  success: StatisticDuration;
  fail: StatisticDuration;
  empty_response: StatisticDuration;
  cancel: StatisticDuration;
}

/** Memory a model version holds on one device. */
export interface MemoryUsage {
  /** "CPU", "CPU_PINNED" or "GPU". */
  type: string;
  /** Device id (GPU ordinal; 0 for CPU). */
  id: bigint;
  byte_size: bigint;
}

/** One entry of the repository index: a model (one entry per ready version) and its state. */
export interface RepositoryIndexEntry {
  name: string;
  /** "" when the server names no version (models that are not loaded). */
  version: string;
  /** e.g. "READY", "UNAVAILABLE", "LOADING", "UNLOADING" (server-defined). */
  state: string;
  /** Why the model is in that state ("" when there is nothing to say). */
  reason: string;
}

export interface RepositoryIndexOptions extends CallOptions {
  /** Only models ready for inference (default false: every model the repository has). */
  ready?: boolean;
}

export interface UnloadModelOptions extends CallOptions {
  /** Also unload the models loaded along with this one, e.g. an ensemble's members (Triton's unload_dependents). */
  unloadDependents?: boolean;
}

export type TraceLevel = "OFF" | "TIMESTAMPS" | "TENSORS";

/** Trace settings (Triton's trace extension), numbers parsed from the strings the protocol carries. */
export interface TraceSettings {
  /** Output file ("" = none). */
  trace_file: string;
  /** ["OFF"] disables tracing. */
  trace_level: TraceLevel[];
  /** One request in every trace_rate is traced. */
  trace_rate: number;
  /** Traces left to collect; -1 = unlimited. */
  trace_count: number;
  /** Traces per file write; 0 = only at shutdown. */
  log_frequency: number;
  /** "triton" or "opentelemetry" ("" when the server does not say). */
  trace_mode: string;
  /** Settings this client does not know, as the server sent them. */
  other: Record<string, string | string[]>;
}

/** A trace settings update: the settings to change; null clears one (a model falls back to the global value). */
export interface TraceSettingsUpdate {
  trace_file?: string | null;
  trace_level?: TraceLevel[] | null;
  trace_rate?: number | null;
  trace_count?: number | null;
  log_frequency?: number | null;
  trace_mode?: string | null;
}

export interface TraceSettingsOptions extends CallOptions {
  /** The model whose settings to read or change; absent: the global settings. */
  model?: string;
}

export type LogFormat = "default" | "ISO8601";

/** Log settings (Triton's logging extension). */
export interface LogSettings {
  /** File the server logs to ("" = its console). */
  log_file: string;
  log_info: boolean;
  log_warning: boolean;
  log_error: boolean;
  /** Verbose messages up to this level are logged (0 = none). */
  log_verbose_level: number;
  log_format: LogFormat | string;
}

export type LogSettingsUpdate = Partial<LogSettings>;
