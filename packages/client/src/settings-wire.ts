// Trace and log settings between the typed API and the wire: trace settings travel as strings (and a
// list for trace_level) over both protocols; log settings as JSON booleans/numbers/strings over HTTP and
// as bool/uint32/string oneofs over gRPC.
import { InferenceError } from "./errors.ts";
import type { LogSettings, LogSettingsUpdate, TraceLevel, TraceSettings, TraceSettingsUpdate } from "./extension-types.ts";

const TRACE_KEYS = ["trace_file", "trace_level", "trace_rate", "trace_count", "log_frequency", "trace_mode"] as const;
const LOG_KEYS = ["log_file", "log_info", "log_warning", "log_error", "log_verbose_level", "log_format"] as const;

function bad(message: string): InferenceError {
  return new InferenceError("invalid_argument", message);
}

function one(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

function integer(v: unknown, name: string, fallback: number): number {
  const x = one(v);
  if (x === undefined || x === null || x === "") return fallback;
  const n = Number(x);
  if (!Number.isSafeInteger(n)) throw new InferenceError("internal", `trace settings: the server sent ${name} = ${JSON.stringify(v)}, not an integer`);
  return n;
}

/** Settings as the server sent them (a JSON object, or the gRPC map flattened to name -> values). */
export function traceSettingsFromWire(raw: Record<string, unknown>): TraceSettings {
  const other: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(raw))
    if (!(TRACE_KEYS as readonly string[]).includes(k)) other[k] = Array.isArray(v) ? v.map(String) : String(v);
  const level = raw.trace_level;
  return {
    trace_file: String(one(raw.trace_file) ?? ""),
    trace_level: (Array.isArray(level) ? level.map(String) : level === undefined ? [] : [String(level)]) as TraceLevel[],
    trace_rate: integer(raw.trace_rate, "trace_rate", 0),
    trace_count: integer(raw.trace_count, "trace_count", -1),
    log_frequency: integer(raw.log_frequency, "log_frequency", 0),
    trace_mode: String(one(raw.trace_mode) ?? ""),
    other,
  };
}

/** Checks an update and writes it as the protocol wants: strings, trace_level a list, null = clear. */
export function traceUpdateToWire(update: TraceSettingsUpdate): Record<string, string | string[] | null> {
  if (update === null || typeof update !== "object" || Array.isArray(update))
    throw bad("updateTraceSettings: settings must be an object of setting name -> value");
  const out: Record<string, string | string[] | null> = {};
  for (const [k, v] of Object.entries(update)) {
    if (v === undefined) continue;
    if (!(TRACE_KEYS as readonly string[]).includes(k))
      throw bad(`updateTraceSettings: unknown trace setting "${k}"; settings are: ${TRACE_KEYS.join(", ")}`);
    if (v === null) out[k] = null;
    else if (k === "trace_level") {
      if (!Array.isArray(v) || v.some((l) => typeof l !== "string"))
        throw bad(`updateTraceSettings: trace_level must be a list of "OFF", "TIMESTAMPS", "TENSORS", got ${JSON.stringify(v)}`);
      out[k] = [...(v as string[])];
    } else if (k === "trace_file" || k === "trace_mode") {
      if (typeof v !== "string") throw bad(`updateTraceSettings: ${k} must be a string, got ${JSON.stringify(v)}`);
      out[k] = v;
    } else {
      if (typeof v !== "number" || !Number.isSafeInteger(v)) throw bad(`updateTraceSettings: ${k} must be an integer, got ${JSON.stringify(v)}`);
      out[k] = String(v);
    }
  }
  return out;
}

export function logSettingsFromWire(raw: Record<string, unknown>): LogSettings {
  const bool = (k: string): boolean => raw[k] === true;
  const level = Number(raw.log_verbose_level ?? 0);
  return {
    log_file: String(raw.log_file ?? ""),
    log_info: bool("log_info"),
    log_warning: bool("log_warning"),
    log_error: bool("log_error"),
    log_verbose_level: Number.isSafeInteger(level) ? level : 0,
    log_format: String(raw.log_format ?? ""),
  };
}

/** Checks a log settings update: booleans, a uint32 verbose level, strings. */
export function checkLogUpdate(update: LogSettingsUpdate): Record<string, boolean | number | string> {
  if (update === null || typeof update !== "object" || Array.isArray(update))
    throw bad("updateLogSettings: settings must be an object of setting name -> value");
  const out: Record<string, boolean | number | string> = {};
  for (const [k, v] of Object.entries(update)) {
    if (v === undefined) continue;
    if (!(LOG_KEYS as readonly string[]).includes(k)) throw bad(`updateLogSettings: unknown log setting "${k}"; settings are: ${LOG_KEYS.join(", ")}`);
    const want = k === "log_verbose_level" ? "number" : k === "log_file" || k === "log_format" ? "string" : "boolean";
    if (typeof v !== want || (want === "number" && (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > 0xffffffff)))
      throw bad(`updateLogSettings: ${k} must be ${want === "number" ? "an unsigned 32-bit integer" : `a ${want}`}, got ${JSON.stringify(v)}`);
    out[k] = v as boolean | number | string;
  }
  return out;
}
