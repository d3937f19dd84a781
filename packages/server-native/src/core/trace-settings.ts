// Triton's trace extension settings (GET/POST v2[/models/{m}]/trace/setting, gRPC TraceSetting): global
// values, per-model overrides that fall back to them, and the sampling decision each request asks for
// (`sample` / `shouldTrace`), which honours trace_level, trace_rate and trace_count.
import { invalidArg } from "./errors.ts";

export const TRACE_LEVELS = ["OFF", "TIMESTAMPS", "TENSORS"] as const;
export type TraceLevel = (typeof TRACE_LEVELS)[number];
export const TRACE_MODES = ["triton", "opentelemetry"] as const;
export type TraceMode = (typeof TRACE_MODES)[number];

export interface TraceSettingValues {
  /** Where traces are written (a prefix when log_frequency > 0); "" = nowhere configured. */
  trace_file: string;
  /** Levels traced; ["OFF"] (or empty) disables tracing. */
  trace_level: TraceLevel[];
  /** One request in every trace_rate is sampled. */
  trace_rate: number;
  /** Traces still to be sampled; -1 = unlimited. Counts down as requests are sampled. */
  trace_count: number;
  /** Write traces to file every N traces; 0 = only at shutdown. */
  log_frequency: number;
  trace_mode: TraceMode;
}

export type TraceSettingName = keyof TraceSettingValues;

/** Triton's defaults (tritonserver without --trace-config). */
export const DEFAULT_TRACE_SETTINGS: Readonly<TraceSettingValues> = Object.freeze({
  trace_file: "",
  trace_level: ["OFF"] as TraceLevel[],
  trace_rate: 1000,
  trace_count: -1,
  log_frequency: 0,
  trace_mode: "triton" as TraceMode,
});

export const TRACE_SETTING_NAMES = Object.keys(DEFAULT_TRACE_SETTINGS) as TraceSettingName[];

/** Settings as both protocols carry them: every value a string, trace_level a list of strings. */
export type TraceSettingsWire = Record<TraceSettingName, string | string[]>;

/** An update as received: per setting a value (string, number, or list for trace_level) or null to clear. */
export type TraceSettingsUpdate = Record<string, unknown>;

/** Settings of one scope (global, or one model) and the sampling state that goes with them. */
interface Scope {
  values: Partial<TraceSettingValues>;
  /** Requests counted towards trace_rate since the rate was last set. */
  seen: number;
  /** trace_count left; -1 = unlimited. */
  remaining: number;
}

const INT = /^-?\d+$/;

function integerSetting(name: string, v: unknown, min: number): number {
  const text = typeof v === "number" ? String(v) : typeof v === "string" ? v.trim() : undefined;
  const n = text !== undefined && INT.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min)
    throw invalidArg(`trace setting '${name}' must be an integer >= ${min} (as a string, e.g. "${Math.max(min, 1)}"), got ${JSON.stringify(v)}`);
  return n;
}

function parseValue(name: TraceSettingName, v: unknown, allowFile: boolean, current: string): TraceSettingValues[TraceSettingName] {
  // A one-element list is how gRPC carries every setting; accept it for scalars too.
  const scalar = Array.isArray(v) && name !== "trace_level" ? (v.length === 1 ? v[0] : v) : v;
  switch (name) {
    case "trace_rate":
      return integerSetting(name, scalar, 1);
    case "trace_count":
      return integerSetting(name, scalar, -1);
    case "log_frequency":
      return integerSetting(name, scalar, 0);
    case "trace_file": {
      if (typeof scalar !== "string") throw invalidArg(`trace setting 'trace_file' must be a string, got ${JSON.stringify(v)}`);
      if (scalar !== current && !allowFile)
        throw invalidArg(
          "trace setting 'trace_file' names a path the server would write to; changing it over the API is disabled " +
            "(server option allowFileSettings / iaas serve --allow-file-settings)",
        );
      return scalar;
    }
    case "trace_mode": {
      if (typeof scalar !== "string" || !(TRACE_MODES as readonly string[]).includes(scalar))
        throw invalidArg(`trace setting 'trace_mode' must be one of ${TRACE_MODES.join(", ")}, got ${JSON.stringify(v)}`);
      return scalar as TraceMode;
    }
    case "trace_level": {
      const list = typeof v === "string" ? [v] : v;
      if (!Array.isArray(list) || list.some((l) => typeof l !== "string" || !(TRACE_LEVELS as readonly string[]).includes(l)))
        throw invalidArg(`trace setting 'trace_level' must be a list of ${TRACE_LEVELS.join(", ")}, got ${JSON.stringify(v)}`);
      const levels = [...new Set(list as TraceLevel[])];
      if (levels.length > 1 && levels.includes("OFF"))
        throw invalidArg(`trace setting 'trace_level' cannot combine OFF with other levels, got ${JSON.stringify(v)}`);
      return levels.length === 0 ? ["OFF"] : levels;
    }
  }
}

function wire(values: TraceSettingValues): TraceSettingsWire {
  return {
    trace_file: values.trace_file,
    trace_level: [...values.trace_level],
    trace_rate: String(values.trace_rate),
    trace_count: String(values.trace_count),
    log_frequency: String(values.log_frequency),
    trace_mode: values.trace_mode,
  };
}

export interface TraceSettingsOptions {
  /** Initial global values (e.g. from server options); validated like an update. */
  initial?: Partial<TraceSettingValues>;
  /** Whether updates may change trace_file (a path the server writes to). Default false. */
  allowFileSettings?: boolean;
}

export class TraceSettings {
  private readonly global: Scope;
  private readonly models = new Map<string, Scope>();
  private readonly allowFile: boolean;

  constructor(options: TraceSettingsOptions = {}) {
    this.allowFile = options.allowFileSettings === true;
    this.global = { values: { ...DEFAULT_TRACE_SETTINGS, trace_level: [...DEFAULT_TRACE_SETTINGS.trace_level] }, seen: 0, remaining: -1 };
    if (options.initial) {
      const initial: TraceSettingsUpdate = {};
      for (const [k, v] of Object.entries(options.initial)) initial[k] = typeof v === "number" ? String(v) : v;
      this.apply(this.global, initial, undefined, true);
    }
  }

  /** Effective settings of a model (its overrides over the global ones), or the global settings. */
  values(model?: string): TraceSettingValues {
    const g = this.global.values as TraceSettingValues;
    const scope = model ? this.models.get(model) : undefined;
    const merged = scope ? { ...g, ...scope.values } : { ...g };
    // trace_count reports what is left to sample in the scope that samples this model (the stored value
    // is only the one last set).
    merged.trace_count = (scope ?? this.global).remaining;
    return merged;
  }

  /** Settings as the protocols carry them. */
  get(model?: string): TraceSettingsWire {
    return wire(this.values(model));
  }

  /**
   * Applies an update to the global settings, or to one model's overrides. A null value (gRPC: an empty
   * value list) clears the setting: a model falls back to the global value, a global setting returns to
   * Triton's default. Every value is checked before anything changes. Returns the new effective settings.
   */
  update(settings: TraceSettingsUpdate, model?: string): TraceSettingsWire {
    if (model) {
      const existing = this.models.get(model);
      const scope: Scope = existing ?? { values: {}, seen: 0, remaining: this.global.remaining };
      this.apply(scope, settings, model, this.allowFile);
      if (Object.keys(scope.values).length === 0) this.models.delete(model);
      else if (!existing) this.models.set(model, scope);
    } else {
      this.apply(this.global, settings, undefined, this.allowFile);
    }
    return this.get(model);
  }

  /** Forgets a model's overrides (e.g. when it is unloaded for good). */
  clearModel(model: string): void {
    this.models.delete(model);
  }

  /**
   * Counts one request of `model` and says whether it is to be traced, with which levels: undefined when
   * tracing is OFF for the model, when it is not the trace_rate-th request, or when trace_count is used up.
   */
  sample(model: string): TraceLevel[] | undefined {
    const scope = this.models.get(model);
    const levels = scope?.values.trace_level ?? (this.global.values.trace_level as TraceLevel[]);
    if (levels.length === 0 || levels[0] === "OFF") return undefined;
    const counting = scope ?? this.global;
    const rate = scope?.values.trace_rate ?? (this.global.values.trace_rate as number);
    counting.seen++;
    if (counting.seen % rate !== 0) return undefined;
    if (counting.remaining === 0) return undefined;
    if (counting.remaining > 0) counting.remaining--;
    return levels;
  }

  /** Whether this request of `model` is sampled (see sample). */
  shouldTrace(model: string): boolean {
    return this.sample(model) !== undefined;
  }

  private apply(scope: Scope, settings: TraceSettingsUpdate, model: string | undefined, allowFile: boolean): void {
    if (settings === null || typeof settings !== "object" || Array.isArray(settings))
      throw invalidArg("trace settings must be an object of setting name -> value");
    const where = model ? ` for model '${model}'` : "";
    const parsed: Partial<Record<TraceSettingName, unknown>> = {};
    const cleared: TraceSettingName[] = [];
    for (const [key, v] of Object.entries(settings)) {
      if (!(TRACE_SETTING_NAMES as string[]).includes(key))
        throw invalidArg(`unknown trace setting '${key}'${where}; settings are: ${TRACE_SETTING_NAMES.join(", ")}`);
      const name = key as TraceSettingName;
      if (v === null || v === undefined || (Array.isArray(v) && v.length === 0 && name !== "trace_level")) {
        cleared.push(name);
        continue;
      }
      const current = this.values(model).trace_file;
      parsed[name] = parseValue(name, v, allowFile, current);
    }
    for (const name of cleared) {
      if (model) delete scope.values[name];
      else (scope.values as Record<string, unknown>)[name] = structuredClone(DEFAULT_TRACE_SETTINGS[name]);
    }
    Object.assign(scope.values, parsed);
    if ("trace_rate" in parsed || cleared.includes("trace_rate")) scope.seen = 0;
    if ("trace_count" in parsed) scope.remaining = parsed.trace_count as number;
    else if (cleared.includes("trace_count")) scope.remaining = model ? this.global.remaining : DEFAULT_TRACE_SETTINGS.trace_count;
  }
}
