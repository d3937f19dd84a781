// One measurement window: what completed between two rotations of a load generator.
// A request belongs to the window in which its response arrives (perf_analyzer's rule).
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

/** A request sent more than this after its scheduled time counts as late (perf_analyzer's "delayed" rule). */
export const LATE_THRESHOLD_MS = 1;

function toUs(ms: number): number {
  const us = Math.round(ms * 1000);
  return us < 1 ? 1 : us > HIGHEST_US ? HIGHEST_US : us;
}

/** The counters of a window, live (a Window) or sent over from a worker (WireWindow). */
export interface WindowCounts {
  successes: number;
  failures: number;
  sent: number;
  late: number;
  maxLateMs: number;
  /** Open loop: sends of requests scheduled before the window opened (a catch-up after falling behind). */
  carriedIn?: number;
  /** Open loop: how far the schedule was behind when the window closed, ms (0 when on time). */
  lagAtEndMs?: number;
  errors: Iterable<readonly [string, number]>;
  errorMessages: Iterable<readonly [string, string]>;
}

export class Window {
  /** Latency of successful requests in us: from the scheduled send time in an open loop, from the send otherwise. */
  readonly hist: LatencyHistogram = createHistogram();
  /** Open loop only: latency from the actual send (what perf_analyzer reports, without coordinated-omission correction). */
  readonly sendHist: LatencyHistogram | undefined;
  readonly startMs: number;
  endMs = 0;
  successes = 0;
  failures = 0;
  /** Open loop: requests sent while this window was open, those sent late, and the worst lateness. */
  sent = 0;
  late = 0;
  maxLateMs = 0;
  /** Open loop: sends in this window of requests scheduled before it opened (backlog drained from earlier). */
  carriedIn = 0;
  /** Open loop: schedule lag (now - next scheduled send, at least 0) when the window closed; set by the generator. */
  lagAtEndMs = 0;
  readonly errors = new Map<string, number>();
  /** First message seen per error code, for reports. */
  readonly errorMessages = new Map<string, string>();
  #target = 0;
  #onTarget: (() => void) | undefined;

  constructor(startMs: number, openLoop = false) {
    this.startMs = startMs;
    this.sendHist = openLoop ? createHistogram() : undefined;
  }

  recordSuccess(latencyMs: number): void {
    this.hist.recordValue(toUs(latencyMs));
    if (++this.successes + this.failures === this.#target) this.#onTarget!();
  }

  /** Open loop: latency from the scheduled time and from the actual send. */
  recordOpenSuccess(fromScheduleMs: number, fromSendMs: number): void {
    this.sendHist!.recordValue(toUs(fromSendMs));
    this.recordSuccess(fromScheduleMs);
  }

  /** A send `lateMs` after its scheduled time `scheduledMs` (same clock as the window's start). */
  recordSend(lateMs: number, scheduledMs = Infinity): void {
    this.sent++;
    if (scheduledMs < this.startMs) this.carriedIn++;
    if (lateMs > LATE_THRESHOLD_MS) this.late++;
    if (lateMs > this.maxLateMs) this.maxLateMs = lateMs;
  }

  recordError(err: unknown): void {
    this.failures++;
    const code = errorCode(err);
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    if (!this.errorMessages.has(code)) this.errorMessages.set(code, err instanceof Error ? err.message : String(err));
    if (this.successes + this.failures === this.#target) this.#onTarget!();
  }

  /** Adds another window's counters into this one (histograms are merged by the caller). */
  addCounts(w: WindowCounts): void {
    this.successes += w.successes;
    this.failures += w.failures;
    this.sent += w.sent;
    this.late += w.late;
    if (w.maxLateMs > this.maxLateMs) this.maxLateMs = w.maxLateMs;
    this.carriedIn += w.carriedIn ?? 0;
    // Parts run side by side: the window is as far behind as its furthest-behind part.
    if ((w.lagAtEndMs ?? 0) > this.lagAtEndMs) this.lagAtEndMs = w.lagAtEndMs!;
    for (const [code, n] of w.errors) this.errors.set(code, (this.errors.get(code) ?? 0) + n);
    for (const [code, m] of w.errorMessages) if (!this.errorMessages.has(code)) this.errorMessages.set(code, m);
  }

  /** Completed requests (successes and failures). */
  get completed(): number {
    return this.successes + this.failures;
  }

  /** Resolves once `count` requests completed in this window (count windows); at once if they already have. */
  whenCompleted(count: number): Promise<void> {
    if (this.completed >= count) return Promise.resolve();
    return new Promise((resolve) => {
      this.#target = count;
      this.#onTarget = resolve;
    });
  }

  close(endMs: number): this {
    this.endMs = endMs;
    this.#target = 0;
    return this;
  }

  get durationMs(): number {
    return this.endMs - this.startMs;
  }

  destroy(): void {
    this.hist.destroy();
    this.sendHist?.destroy();
  }
}

/** Open-loop numbers of a window (or of a level's merged windows). */
export interface OpenLoopStats {
  /** Requests sent while the window was open, and sent per second (the generator's injection rate). */
  sent: number;
  sentRate: number;
  /**
   * Completed requests (successes and failures, in requests, not inferences) per second of the window:
   * perf_analyzer's throughput, the rate the target is compared with.
   */
  achievedRate: number;
  /**
   * Sends of requests scheduled before the window opened: a catch-up after the generator fell behind, which
   * lifts this window's rates above the target. 0 when the schedule was kept at the window's start.
   */
  carriedIn: number;
  /** How far the schedule was behind at the end of the (last) window, ms: > 1 means the generator fell behind. */
  lagAtEndMs: number;
  /** Requests sent more than LATE_THRESHOLD_MS (1 ms) after their scheduled time, and their share (0..1). */
  late: number;
  lateShare: number;
  maxLateUs: number;
  /** Latency from the actual send time (perf_analyzer's definition); `latencyUs` counts from the scheduled time. */
  latencyFromSendUs: LatencySummary;
}

/** Server-side averages per request from the statistics extension (delta of the model's statistics). */
export interface ServerBreakdown {
  /** Successful requests the server counted, inferences (requests x batch) and executions. */
  requests: number;
  inferences: number;
  executions: number;
  failures: number;
  /** Average request duration at the server (receipt to response), us. */
  requestUs: number;
  queueUs: number;
  computeInputUs: number;
  computeInferUs: number;
  computeOutputUs: number;
  /** Average client latency (from the actual send) minus `requestUs`: client, network and protocol overhead. */
  clientOverheadUs: number;
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
  /** Open loop only. */
  openLoop?: OpenLoopStats;
  /** Null when the server's statistics could not be read (see the level's `serverNote`). */
  server?: ServerBreakdown | null;
}

interface Counts {
  hist: LatencyHistogram;
  sendHist?: LatencyHistogram | undefined;
  successes: number;
  failures: number;
  errors: Map<string, number>;
  sent?: number;
  late?: number;
  maxLateMs?: number;
  carriedIn?: number;
  lagAtEndMs?: number;
}

const round2 = (v: number) => Math.round(v * 100) / 100;

export function windowStats(w: Counts, durationMs: number, batchSize: number, percentile: StabilityLatency): WindowStats {
  const stats: WindowStats = {
    durationMs: Math.round(durationMs * 1000) / 1000,
    requests: w.successes,
    throughput: durationMs > 0 ? round2((w.successes * batchSize * 1000) / durationMs) : 0,
    latencyUs: summarize(w.hist, percentile),
    errorCount: w.failures,
    errors: Object.fromEntries(w.errors),
  };
  if (w.sendHist !== undefined) {
    const sent = w.sent ?? 0;
    const late = w.late ?? 0;
    stats.openLoop = {
      sent,
      sentRate: durationMs > 0 ? round2((sent * 1000) / durationMs) : 0,
      achievedRate: durationMs > 0 ? round2(((w.successes + w.failures) * 1000) / durationMs) : 0,
      carriedIn: w.carriedIn ?? 0,
      lagAtEndMs: Math.round((w.lagAtEndMs ?? 0) * 1000) / 1000,
      late,
      lateShare: sent > 0 ? Math.round((late / sent) * 10_000) / 10_000 : 0,
      maxLateUs: Math.round((w.maxLateMs ?? 0) * 1000),
      latencyFromSendUs: summarize(w.sendHist, percentile),
    };
  }
  return stats;
}
