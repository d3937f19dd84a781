// Triton's per-model-version statistics. Counters are bigint (uint64 on the wire); toJSON-style
// snapshots keep them as bigint so JSON writers can emit them exactly (stringifyJson).
import type { ExecuteTimings } from "../native/types.ts";
import type { RejectReason } from "../scheduler/queue-policy.ts";
import type { FailureReason } from "../metrics/failure-reason.ts";

export interface Duration {
  count: bigint;
  ns: bigint;
}

export interface BatchStatsSnapshot {
  batch_size: bigint;
  compute_input: Duration;
  compute_infer: Duration;
  compute_output: Duration;
}

export interface ModelStatsSnapshot {
  name: string;
  version: string;
  last_inference: bigint;
  inference_count: bigint;
  execution_count: bigint;
  inference_stats: {
    success: Duration;
    fail: Duration;
    queue: Duration;
    compute_input: Duration;
    compute_infer: Duration;
    compute_output: Duration;
    cache_hit: Duration;
    cache_miss: Duration;
  };
  batch_stats: BatchStatsSnapshot[];
  memory_usage: MemoryUsage[];
  /** Per response index ("0" = a request's first, for non-decoupled models its only, response). */
  response_stats: Record<string, ResponseStatsSnapshot>;
}

/** Triton's MemoryUsage: memory a model version holds, per device ("CPU", "CPU_PINNED", "GPU" + id). */
export interface MemoryUsage {
  type: string;
  id: bigint;
  byte_size: bigint;
}

/** Triton's InferResponseStatistics. */
export interface ResponseStatsSnapshot {
  compute_infer: Duration;
  compute_output: Duration;
  success: Duration;
  fail: Duration;
  empty_response: Duration;
  cancel: Duration;
}

export type ResponseOutcome = keyof ResponseStatsSnapshot;

const zero = (): Duration => ({ count: 0n, ns: 0n });

/**
 * A Duration being accumulated. Every request adds to about a dozen of them, and bigint arithmetic allocates
 * a new bigint per operation, so the adds go to numbers: the count stays far below 2^53, and the nanoseconds
 * are folded into the exact bigint total before their number part could reach 2^53 (adds stay exact).
 */
interface Accum {
  count: number;
  ns: bigint;
  pendingNs: number;
}
const FOLD_NS_AT = 2 ** 52;
const accum = (): Accum => ({ count: 0, ns: 0n, pendingNs: 0 });
const add = (d: Accum, ns: number): void => {
  d.count++;
  d.pendingNs += ns;
  if (d.pendingNs >= FOLD_NS_AT) {
    d.ns += BigInt(d.pendingNs);
    d.pendingNs = 0;
  }
};
const copy = (d: Accum): Duration => ({ count: BigInt(d.count), ns: d.ns + BigInt(d.pendingNs) });
/** Native timings (float nanoseconds) and request durations (bigint, far below 2^53) as whole ns. */
const toNs = (n: number): number => Math.max(0, Math.round(n));
const bigNs = (n: bigint): number => (n > 0n ? Number(n) : 0);

interface BatchBucket {
  compute_input: Accum;
  compute_infer: Accum;
  compute_output: Accum;
}

type ResponseAccums = Record<ResponseOutcome, Accum>;

export class ModelStats {
  readonly name: string;
  readonly version: string;
  /** ms since the epoch (Date.now()); numbers below, bigints only in snapshots. */
  private lastInference = 0;
  private inferenceCount = 0;
  private executionCount = 0;
  private readonly success = accum();
  private readonly fail = accum();
  private readonly queue = accum();
  private readonly computeInput = accum();
  private readonly computeInfer = accum();
  private readonly computeOutput = accum();
  private readonly batches = new Map<number, BatchBucket>();
  private readonly responses = new Map<string, ResponseAccums>();
  private readonly memoryUsage: readonly MemoryUsage[];
  private readonly rejected: Record<RejectReason, number> = { queue_full: 0, timeout: 0 };
  /** Failed requests per reason (nv_inference_request_failure); their sum is inference_stats.fail.count. */
  private readonly failures: Record<FailureReason, bigint> = { REJECTED: 0n, CANCELED: 0n, BACKEND: 0n, OTHER: 0n };
  /** Requests handed to the scheduler that have not finished executing (nv_inference_pending_request_count). */
  pending = 0;

  constructor(name: string, version: string, memoryUsage: readonly MemoryUsage[] = []) {
    this.name = name;
    this.version = version;
    this.memoryUsage = memoryUsage;
  }

  /**
   * Adds one response to response_stats under `key` (the response index as a string). Streaming and
   * decoupled code records each of a request's responses here; infer records "0" itself.
   */
  recordResponse(key: string, outcome: ResponseOutcome, ns: bigint): void {
    add(this.response(key)[outcome], bigNs(ns));
  }

  private response(key: string): ResponseAccums {
    let r = this.responses.get(key);
    if (r === undefined) {
      r = { compute_infer: accum(), compute_output: accum(), success: accum(), fail: accum(), empty_response: accum(), cancel: accum() };
      this.responses.set(key, r);
    }
    return r;
  }

  /**
   * One request that executed alone (batch of `batchSize` elements) and succeeded. `asResponse` false:
   * a decoupled request, whose responses were recorded one by one with recordResponse.
   */
  recordSuccess(
    batchSize: number,
    requestNs: bigint,
    queueNs: bigint,
    timings: ExecuteTimings,
    asResponse = true,
    execution?: { size: number; leader: boolean },
  ): void {
    const input = toNs(timings.computeInputNs);
    const infer = toNs(timings.computeInferNs);
    const output = toNs(timings.computeOutputNs);
    const request = bigNs(requestNs);
    this.lastInference = Date.now();
    this.inferenceCount += batchSize;
    add(this.success, request);
    add(this.queue, bigNs(queueNs));
    // As Triton: each request of a dynamic batch counts the batch's compute durations; the execution
    // itself (execution_count, batch_stats under the merged size) is counted once, by its leader.
    add(this.computeInput, input);
    add(this.computeInfer, infer);
    add(this.computeOutput, output);
    if (execution === undefined || execution.leader) {
      const size = execution?.size ?? batchSize;
      this.executionCount++;
      let bucket = this.batches.get(size);
      if (bucket === undefined) {
        bucket = { compute_input: accum(), compute_infer: accum(), compute_output: accum() };
        this.batches.set(size, bucket);
      }
      add(bucket.compute_input, input);
      add(bucket.compute_infer, infer);
      add(bucket.compute_output, output);
    }
    if (!asResponse) return;
    const first = this.response("0");
    add(first.compute_infer, infer);
    add(first.compute_output, output);
    add(first.success, request);
  }

  /** A request that reached this model version and failed (validation or execution); `asResponse` as above. */
  recordFailure(requestNs: bigint, asResponse = true): void {
    this.lastInference = Date.now();
    add(this.fail, bigNs(requestNs));
    if (asResponse) this.recordResponse("0", "fail", requestNs);
  }

  /** Counts a failure recorded with recordFailure under its reason (metrics; the statistics extension has one fail counter). */
  countFailure(reason: FailureReason): void {
    this.failures[reason]++;
  }

  /** Failed requests per failure reason. */
  failureCounts(): Readonly<Record<FailureReason, bigint>> {
    return { ...this.failures };
  }

  /** A request the dynamic batcher's queue refused without executing it (recordFailure counts it too). */
  recordQueueRejection(reason: RejectReason): void {
    this.rejected[reason]++;
  }

  /**
   * Requests the dynamic batcher's queue refused, per reason (`queue_full`: max_queue_size reached;
   * `timeout`: the queue timeout expired with timeout_action REJECT). Triton's statistics message has no
   * field for them (they count in `fail`); iaas keeps them apart for diagnostics.
   */
  queueRejections(): Record<RejectReason, number> {
    return { ...this.rejected };
  }

  snapshot(): ModelStatsSnapshot {
    return {
      name: this.name,
      version: this.version,
      last_inference: BigInt(this.lastInference),
      inference_count: BigInt(this.inferenceCount),
      execution_count: BigInt(this.executionCount),
      inference_stats: {
        success: copy(this.success),
        fail: copy(this.fail),
        queue: copy(this.queue),
        compute_input: copy(this.computeInput),
        compute_infer: copy(this.computeInfer),
        compute_output: copy(this.computeOutput),
        cache_hit: zero(),
        cache_miss: zero(),
      },
      batch_stats: [...this.batches.entries()]
        .sort(([a], [b]) => a - b)
        .map(([size, b]) => ({
          batch_size: BigInt(size),
          compute_input: copy(b.compute_input),
          compute_infer: copy(b.compute_infer),
          compute_output: copy(b.compute_output),
        })),
      memory_usage: this.memoryUsage.map((m) => ({ ...m })),
      response_stats: Object.fromEntries(
        [...this.responses.entries()]
          .sort(([a], [b]) => Number(a) - Number(b) || a.localeCompare(b))
          .map(([k, r]) => [
            k,
            {
              compute_infer: copy(r.compute_infer),
              compute_output: copy(r.compute_output),
              success: copy(r.success),
              fail: copy(r.fail),
              empty_response: copy(r.empty_response),
              cancel: copy(r.cancel),
            },
          ]),
      ),
    };
  }
}
