// Server-side latency breakdown from Triton's statistics extension: the model's cumulative counters are read
// at every window boundary and differenced, as perf_analyzer does around its windows.
import { InferenceError, type InferenceClient, type ModelStatistics, type StatisticDuration } from "@iaas/client";
import type { ServerBreakdown } from "./window.ts";

export interface StatsSnapshot {
  success: StatisticDuration;
  fail: StatisticDuration;
  queue: StatisticDuration;
  computeInput: StatisticDuration;
  computeInfer: StatisticDuration;
  computeOutput: StatisticDuration;
  inferenceCount: bigint;
  executionCount: bigint;
}

/** Codes meaning "this server has no statistics endpoint": asking again will not help. */
const MISSING_EXTENSION = new Set(["unimplemented", "not_found", "permission_denied"]);
const STATS_TIMEOUT_MS = 5000;

const zero = (): StatisticDuration => ({ count: 0n, ns: 0n });
const addTo = (a: StatisticDuration, b: StatisticDuration) => {
  a.count += b.count;
  a.ns += b.ns;
};

/** Reads one model's statistics (summed over its versions, or one version); remembers why when it cannot. */
export class ServerStatsReader {
  #client: InferenceClient;
  #model: string;
  #version: string | undefined;
  /** False once the server showed it has no statistics extension; no further calls are made. */
  supported = true;
  /** Why the last snapshot failed, when it did. */
  note: string | undefined;

  constructor(client: InferenceClient, model: string, version?: string) {
    this.#client = client;
    this.#model = model;
    this.#version = version;
  }

  /** Never rejects: undefined (with `note` set) when the statistics could not be read. */
  async snapshot(): Promise<StatsSnapshot | undefined> {
    if (!this.supported) return undefined;
    let list: ModelStatistics[];
    try {
      list = await this.#client.modelStatistics(this.#model, {
        timeoutMs: STATS_TIMEOUT_MS,
        ...(this.#version !== undefined ? { version: this.#version } : {}),
      });
    } catch (err) {
      const code = err instanceof InferenceError ? err.code : "unknown";
      if (MISSING_EXTENSION.has(code)) {
        this.supported = false;
        this.note = `server statistics unavailable (the server has no statistics extension: ${(err as Error).message} [${code}]); server columns are empty`;
      } else {
        this.note = `server statistics could not be read: ${(err as Error).message} [${code}]`;
      }
      return undefined;
    }
    const mine = list.filter((s) => s.name === this.#model && (this.#version === undefined || s.version === this.#version));
    if (mine.length === 0) {
      this.note = `the server returned no statistics for model "${this.#model}"${this.#version ? ` version ${this.#version}` : ""}`;
      return undefined;
    }
    const snap: StatsSnapshot = {
      success: zero(),
      fail: zero(),
      queue: zero(),
      computeInput: zero(),
      computeInfer: zero(),
      computeOutput: zero(),
      inferenceCount: 0n,
      executionCount: 0n,
    };
    for (const s of mine) {
      const i = s.inference_stats;
      addTo(snap.success, i.success);
      addTo(snap.fail, i.fail);
      addTo(snap.queue, i.queue);
      addTo(snap.computeInput, i.compute_input);
      addTo(snap.computeInfer, i.compute_infer);
      addTo(snap.computeOutput, i.compute_output);
      snap.inferenceCount += s.inference_count;
      snap.executionCount += s.execution_count;
    }
    return snap;
  }
}

function avgUs(a: StatisticDuration, b: StatisticDuration): number {
  const count = b.count - a.count;
  if (count <= 0n) return 0;
  return Math.round(Number(b.ns - a.ns) / Number(count) / 100) / 10;
}

/**
 * Per-request server averages between two snapshots; null when they cannot be compared (counters went
 * backwards: the model was reloaded) or no request succeeded in between. `clientAvgUs` is the average client
 * latency from the actual send over the same span; the overhead is floored at 0 as perf_analyzer floors its
 * network column (the spans are aligned only to the nearest statistics call).
 */
export function serverBreakdown(before: StatsSnapshot | undefined, after: StatsSnapshot | undefined, clientAvgUs: number): ServerBreakdown | null {
  if (before === undefined || after === undefined) return null;
  const requests = after.success.count - before.success.count;
  if (requests <= 0n || after.inferenceCount < before.inferenceCount || after.fail.count < before.fail.count) return null;
  const requestUs = avgUs(before.success, after.success);
  return {
    requests: Number(requests),
    inferences: Number(after.inferenceCount - before.inferenceCount),
    executions: Number(after.executionCount - before.executionCount),
    failures: Number(after.fail.count - before.fail.count),
    requestUs,
    queueUs: avgUs(before.queue, after.queue),
    computeInputUs: avgUs(before.computeInput, after.computeInput),
    computeInferUs: avgUs(before.computeInfer, after.computeInfer),
    computeOutputUs: avgUs(before.computeOutput, after.computeOutput),
    clientOverheadUs: Math.max(0, Math.round((clientAvgUs - requestUs) * 10) / 10),
  };
}
