// One measurement window: what completed between two rotations of the closed loop.
import { createHistogram, summarize, HIGHEST_US, type LatencyHistogram, type LatencySummary, type StabilityLatency } from "./histogram.ts";

/** Error code of a failed request: InferenceError's code, else the error's name. */
export function errorCode(err: unknown): string {
  if (err !== null && typeof err === "object") {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    const name = (err as { name?: unknown }).name;
    if (typeof name === "string" && name !== "") return name;
  }
  return "unknown";
}

export class Window {
  readonly hist: LatencyHistogram = createHistogram();
  readonly startMs: number;
  endMs = 0;
  successes = 0;
  failures = 0;
  readonly errors = new Map<string, number>();
  /** First message seen per error code, for reports. */
  readonly errorMessages = new Map<string, string>();

  constructor(startMs: number) {
    this.startMs = startMs;
  }

  recordSuccess(latencyMs: number): void {
    let us = Math.round(latencyMs * 1000);
    if (us < 1) us = 1;
    else if (us > HIGHEST_US) us = HIGHEST_US;
    this.hist.recordValue(us);
    this.successes++;
  }

  recordError(err: unknown): void {
    this.failures++;
    const code = errorCode(err);
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    if (!this.errorMessages.has(code)) this.errorMessages.set(code, err instanceof Error ? err.message : String(err));
  }

  close(endMs: number): this {
    this.endMs = endMs;
    return this;
  }

  get durationMs(): number {
    return this.endMs - this.startMs;
  }

  destroy(): void {
    this.hist.destroy();
  }
}

export interface WindowStats {
  durationMs: number;
  /** Successful requests. */
  requests: number;
  /** Successful inferences per second: requests x batch size / duration. */
  throughput: number;
  latencyUs: LatencySummary;
  errorCount: number;
  errors: Record<string, number>;
}

export function windowStats(w: { hist: LatencyHistogram; successes: number; failures: number; errors: Map<string, number> }, durationMs: number, batchSize: number, percentile: StabilityLatency): WindowStats {
  return {
    durationMs: Math.round(durationMs * 1000) / 1000,
    requests: w.successes,
    throughput: durationMs > 0 ? Math.round((w.successes * batchSize * 1000 * 100) / durationMs) / 100 : 0,
    latencyUs: summarize(w.hist, percentile),
    errorCount: w.failures,
    errors: Object.fromEntries(w.errors),
  };
}
