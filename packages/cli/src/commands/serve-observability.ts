// `iaas serve` flags for observability: the Prometheus metrics port (as tritonserver's --metrics-port and
// --allow-metrics), the initial trace settings (trace extension: --trace-level, --trace-rate, --trace-count)
// and --otlp-endpoint, which registers the OpenTelemetry SDK in the serve process (tracing/serve-tracing.ts)
// so sampled requests export SERVER spans there.
import { InvalidArgumentError, Option, type Command } from "commander";
import { TRACE_LEVELS, type StartServerOptions, type TraceLevel } from "@iaas/server-native";
import * as parse from "./parsers.ts";
import { UsageError } from "./errors.ts";
import { registerServeTracing, type ServeTracing } from "../tracing/serve-tracing.ts";

export interface ServeObservabilityFlags {
  metricsPort?: number;
  allowMetrics: boolean;
  otlpEndpoint?: string;
  traceLevel?: TraceLevel[];
  traceRate?: number;
  traceCount?: number;
}

function boolean(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === "true" || v === "1" || v === "yes") return true;
  if (v === "false" || v === "0" || v === "no") return false;
  throw new InvalidArgumentError("expected true or false.");
}

function traceLevels(value: string): TraceLevel[] {
  const levels = value.split(",").map((s) => s.trim().toUpperCase()).filter((s) => s !== "");
  for (const l of levels)
    if (!(TRACE_LEVELS as readonly string[]).includes(l)) throw new InvalidArgumentError(`unknown trace level "${l}"; choose from ${TRACE_LEVELS.join(", ")}.`);
  if (levels.length === 0) throw new InvalidArgumentError(`expected one or more of ${TRACE_LEVELS.join(", ")}.`);
  return levels as TraceLevel[];
}

export function addServeObservabilityOptions(command: Command): Command {
  return command
    .addOption(new Option("--metrics-port <port>", "Prometheus metrics port, GET /metrics (default 8002; 0 picks a free one, the default when --http-port is 0)").argParser(parse.port))
    .addOption(new Option("--allow-metrics <bool>", "serve Prometheus metrics (--allow-metrics=false turns them off)").argParser(boolean).default(true))
    .option("--otlp-endpoint <url>", "export OpenTelemetry SERVER spans of sampled requests over OTLP/HTTP (JSON) to this collector (e.g. http://127.0.0.1:4318); implies --trace-level TIMESTAMPS")
    .addOption(new Option("--trace-level <levels>", `initial trace_level: comma-separated ${TRACE_LEVELS.join(", ")} (default OFF, TIMESTAMPS with --otlp-endpoint)`).argParser(traceLevels))
    .addOption(new Option("--trace-rate <n>", "initial trace_rate: trace one request in every n (default 1000, as Triton)").argParser(parse.integerAtLeast(1)))
    .addOption(new Option("--trace-count <n>", "initial trace_count: stop after n traced requests (-1 = unlimited, the default)").argParser(parse.integerAtLeast(-1)));
}

export function serveObservabilityOptions(flags: ServeObservabilityFlags): Pick<StartServerOptions, "metrics" | "metricsPort" | "traceSettings"> {
  const out: Pick<StartServerOptions, "metrics" | "metricsPort" | "traceSettings"> = {};
  if (!flags.allowMetrics) {
    if (flags.metricsPort !== undefined) throw new UsageError("--metrics-port has no effect with --allow-metrics=false: give one or the other");
    out.metrics = false;
  } else if (flags.metricsPort !== undefined) {
    out.metricsPort = flags.metricsPort;
  }
  const trace: NonNullable<StartServerOptions["traceSettings"]> = {};
  const level = flags.traceLevel ?? (flags.otlpEndpoint !== undefined ? ["TIMESTAMPS"] : undefined);
  if (level !== undefined) trace.trace_level = level;
  if (flags.traceRate !== undefined) trace.trace_rate = flags.traceRate;
  if (flags.traceCount !== undefined) trace.trace_count = flags.traceCount;
  if (Object.keys(trace).length > 0) out.traceSettings = trace;
  return out;
}

/** Registers the OpenTelemetry SDK when --otlp-endpoint is given (before the server starts). */
export function startServeTracing(flags: ServeObservabilityFlags): ServeTracing | undefined {
  return flags.otlpEndpoint === undefined ? undefined : registerServeTracing(flags.otlpEndpoint);
}
