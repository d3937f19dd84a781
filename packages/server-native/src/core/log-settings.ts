// Triton's logging extension (GET/POST v2/logging, gRPC LogSettings) and the server's logger, which
// applies those settings at run time: which levels are written, the verbose threshold, the line format
// ("default" glog-style or "ISO8601"), and whether lines go to the log sink or are appended to log_file.
import { closeSync, openSync, writeSync } from "node:fs";
import { invalidArg } from "./errors.ts";

export const LOG_FORMATS = ["default", "ISO8601"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogSettingValues {
  /** File the log lines are appended to; "" = the server's log sink (console for iaas serve). */
  log_file: string;
  log_info: boolean;
  log_warning: boolean;
  log_error: boolean;
  /** Verbose messages of level <= this are written; 0 = none. */
  log_verbose_level: number;
  log_format: LogFormat;
}

export type LogSettingName = keyof LogSettingValues;

/** Triton's defaults: info, warnings and errors on, no verbose output, default format, console. */
export const DEFAULT_LOG_SETTINGS: Readonly<LogSettingValues> = Object.freeze({
  log_file: "",
  log_info: true,
  log_warning: true,
  log_error: true,
  log_verbose_level: 0,
  log_format: "default",
});

export const LOG_SETTING_NAMES = Object.keys(DEFAULT_LOG_SETTINGS) as LogSettingName[];

/** "info" | "warning" | "error", or a verbose level (1 = least chatty). */
export type LogLevel = "info" | "warning" | "error" | number;

/** What front ends and the core log through: a message and its level (info when absent). */
export type LogFn = (message: string, level?: LogLevel) => void;

export interface ServerLoggerOptions {
  /** Receives each formatted line (without a newline) while log_file is "". Default: drop. */
  sink?: (line: string) => void;
  initial?: Partial<LogSettingValues>;
  /** Whether updates may change log_file (a path the server writes to). Default false. */
  allowFileSettings?: boolean;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, "0");

function letter(level: LogLevel): string {
  return level === "warning" ? "W" : level === "error" ? "E" : "I";
}

/** glog's layout, as Triton's default format: `I0304 12:34:56.789012 <pid> iaas] message` (local time). */
function defaultLine(level: LogLevel, message: string, now: Date, micros: number): string {
  const date = `${pad(now.getMonth() + 1)}${pad(now.getDate())}`;
  const time = `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}.${pad(micros, 6)}`;
  return `${letter(level)}${date} ${time} ${process.pid} iaas] ${message}`;
}

/** Triton's ISO8601 format: `2024-03-04T12:34:56Z I <pid> iaas] message` (UTC). */
function isoLine(level: LogLevel, message: string, now: Date): string {
  return `${now.toISOString().slice(0, 19)}Z ${letter(level)} ${process.pid} iaas] ${message}`;
}

/** performance.now() + this = wall-clock ms (re-anchored by wallClockMs). */
let monotonicToWall = performance.timeOrigin;

/**
 * Wall-clock time in ms with sub-millisecond precision, so the microseconds belong to the printed second.
 * The monotonic clock (performance.now) drifts from the wall clock (NTP slews it, the host may be
 * suspended): whenever the two disagree on the millisecond, the offset is set again from Date.now().
 */
function wallClockMs(): number {
  const mono = performance.now();
  const wall = Date.now();
  let t = monotonicToWall + mono;
  if (t < wall || t >= wall + 1) {
    monotonicToWall = wall + 0.5 - mono;
    t = wall + 0.5;
  }
  return t;
}

export class ServerLogger {
  private readonly sink: (line: string) => void;
  private readonly allowFile: boolean;
  private current: LogSettingValues = { ...DEFAULT_LOG_SETTINGS };
  private fd: number | undefined;

  constructor(options: ServerLoggerOptions = {}) {
    this.sink = options.sink ?? (() => {});
    this.allowFile = options.allowFileSettings === true;
    if (options.initial) this.apply(options.initial, true);
  }

  /** The current settings. */
  settings(): LogSettingValues {
    return { ...this.current };
  }

  /**
   * Changes the named settings; the others stay. Every value is checked (type, range, format name)
   * before anything changes; log_file is opened for appending before it is switched to. Returns the
   * new settings.
   */
  update(settings: Record<string, unknown>): LogSettingValues {
    return this.apply(settings, this.allowFile);
  }

  /** Whether verbose messages of this level are written (cheap; for guarding message construction). */
  verboseEnabled(level: number): boolean {
    return this.current.log_verbose_level >= level;
  }

  /** Writes one message if its level is enabled. Bound, so it can be handed around as a LogFn. */
  readonly log: LogFn = (message, level = "info") => {
    const s = this.current;
    if (level === "info" ? !s.log_info : level === "warning" ? !s.log_warning : level === "error" ? !s.log_error : s.log_verbose_level < level)
      return;
    const epochMs = wallClockMs();
    const now = new Date(epochMs);
    const line = s.log_format === "ISO8601" ? isoLine(level, message, now) : defaultLine(level, message, now, Math.floor((epochMs % 1000) * 1000));
    if (this.fd === undefined) {
      this.sink(line);
      return;
    }
    try {
      writeSync(this.fd, `${line}\n`);
    } catch (err) {
      // A log file that became unwritable must not take requests down: fall back to the sink.
      this.sink(`${line} (cannot write log file '${s.log_file}': ${(err as Error).message})`);
    }
  };

  /** Closes log_file, if one is open. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private apply(settings: Record<string, unknown>, allowFile: boolean): LogSettingValues {
    if (settings === null || typeof settings !== "object" || Array.isArray(settings))
      throw invalidArg("log settings must be an object of setting name -> value");
    const next = { ...this.current };
    for (const [key, v] of Object.entries(settings)) {
      switch (key) {
        case "log_info":
        case "log_warning":
        case "log_error":
          if (typeof v !== "boolean") throw invalidArg(`log setting '${key}' must be a boolean, got ${JSON.stringify(v)}`);
          next[key] = v;
          break;
        case "log_verbose_level":
          if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v > 0xffffffff)
            throw invalidArg(`log setting 'log_verbose_level' must be an unsigned integer (uint32), got ${JSON.stringify(v)}`);
          next.log_verbose_level = v;
          break;
        case "log_format":
          if (typeof v !== "string" || !(LOG_FORMATS as readonly string[]).includes(v))
            throw invalidArg(`log setting 'log_format' must be one of ${LOG_FORMATS.map((f) => `"${f}"`).join(", ")}, got ${JSON.stringify(v)}`);
          next.log_format = v as LogFormat;
          break;
        case "log_file":
          if (typeof v !== "string") throw invalidArg(`log setting 'log_file' must be a string, got ${JSON.stringify(v)}`);
          if (v !== this.current.log_file && !allowFile)
            throw invalidArg(
              "log setting 'log_file' names a path the server would write to; changing it over the API is disabled " +
                "(server option allowFileSettings / iaas serve --allow-file-settings)",
            );
          next.log_file = v;
          break;
        default:
          throw invalidArg(`unknown log setting '${key}'; settings are: ${LOG_SETTING_NAMES.join(", ")}`);
      }
    }
    if (next.log_file !== this.current.log_file) {
      let fd: number | undefined;
      if (next.log_file !== "") {
        try {
          fd = openSync(next.log_file, "a");
        } catch (err) {
          throw invalidArg(`log setting 'log_file': cannot open '${next.log_file}' for appending: ${(err as Error).message}`);
        }
      }
      this.close();
      this.fd = fd;
    }
    this.current = next;
    return this.settings();
  }
}
