// Triton's scheduling queue for the dynamic batcher: one FIFO per priority level (1 = highest), each
// with its ModelQueuePolicy (max_queue_size, default timeout, whether requests may shorten it, and what
// happens to a request whose timeout expires while queued: REJECT it or DELAY it behind the requests of
// its level that did not expire). Dequeue order: level 1's queue, then level 1's delayed requests,
// then level 2, and so on, as Triton's PriorityQueue.
import { ServerError } from "../core/errors.ts";
import type { DynamicBatchingConfig, QueuePolicyConfig } from "../repository/model-config.ts";

/** Why a request left the queue without executing (counted per model version; see queue stats). */
export type RejectReason = "queue_full" | "timeout";

/** A request the queue refused without executing it (UNAVAILABLE); `rejectReason` feeds the per-reason counters. */
export class QueueRejection extends ServerError {
  readonly rejectReason: RejectReason;
  constructor(reason: RejectReason, message: string) {
    super("UNAVAILABLE", message);
    this.rejectReason = reason;
  }
}

export interface QueuedItem {
  /** Level index (0-based: level 1 is 0). */
  level: number;
  /** Absolute deadline, process.hrtime.bigint() ns; 0n = none. */
  deadlineNs: bigint;
  /** Moved behind the level's other requests after its timeout expired (DELAY). */
  delayed: boolean;
}

interface Level<T extends QueuedItem> {
  maxSize: number;
  timeoutUs: number;
  allowOverride: boolean;
  delay: boolean;
  queue: T[];
  delayed: T[];
}

interface PolicyValues {
  maxSize: number;
  timeoutUs: number;
  allowOverride: boolean;
  delay: boolean;
}

function policyValues(p: QueuePolicyConfig | undefined): PolicyValues {
  return {
    maxSize: p?.max_queue_size ?? 0,
    timeoutUs: p?.default_timeout_microseconds ?? 0,
    allowOverride: p?.allow_timeout_override === true,
    delay: p?.timeout_action === "DELAY",
  };
}

export class PriorityQueues<T extends QueuedItem> {
  private readonly levels: Level<T>[];
  private readonly defaultLevel: number;
  private size = 0;

  constructor(config: DynamicBatchingConfig) {
    const count = Math.max(1, config.priority_levels ?? 0);
    const fallback = config.default_queue_policy;
    this.levels = [];
    for (let l = 1; l <= count; l++) {
      const p = policyValues(config.priority_queue_policy?.[String(l)] ?? fallback);
      this.levels.push({ ...p, queue: [], delayed: [] });
    }
    const d = config.default_priority_level ?? 0;
    this.defaultLevel = d >= 1 && d <= count ? d - 1 : 0;
  }

  get length(): number {
    return this.size;
  }

  /**
   * The level and deadline of a request: `priority` 0 or outside 1..priority_levels takes the default
   * level (as Triton); `timeoutUs` (the request's timeout parameter) only shortens the level's default
   * timeout, and only where allow_timeout_override is set.
   */
  placement(priority: number | undefined, timeoutUs: number | undefined, now: bigint): { level: number; deadlineNs: bigint } {
    const p = priority ?? 0;
    const level = p >= 1 && p <= this.levels.length ? p - 1 : this.defaultLevel;
    const l = this.levels[level]!;
    let timeout = l.timeoutUs;
    if (l.allowOverride && timeoutUs !== undefined && timeoutUs > 0 && (timeout === 0 || timeoutUs < timeout)) timeout = timeoutUs;
    return { level, deadlineNs: timeout > 0 ? now + BigInt(timeout) * 1000n : 0n };
  }

  /** Adds an item at the back of its level; throws a QueueRejection when the level is at max_queue_size. */
  push(item: T, modelName: string): void {
    const l = this.levels[item.level]!;
    if (l.maxSize > 0 && l.queue.length + l.delayed.length >= l.maxSize)
      throw new QueueRejection("queue_full", `Exceeds maximum queue size (model '${modelName}', priority level ${item.level + 1}: ${l.maxSize} requests queued)`);
    l.queue.push(item);
    this.size++;
  }

  /**
   * Applies timeouts: expired items of REJECT levels are removed and returned, expired items of DELAY
   * levels move to their level's delayed list. Returns the earliest deadline still pending (0n: none).
   */
  expire(now: bigint, rejected: T[]): bigint {
    let next = 0n;
    for (const l of this.levels) {
      if (l.queue.length === 0) continue;
      let kept = 0;
      for (const item of l.queue) {
        if (item.deadlineNs !== 0n && item.deadlineNs <= now) {
          if (l.delay) {
            item.delayed = true;
            l.delayed.push(item);
          } else {
            rejected.push(item);
            this.size--;
          }
          continue;
        }
        if (item.deadlineNs !== 0n && (next === 0n || item.deadlineNs < next)) next = item.deadlineNs;
        l.queue[kept++] = item;
      }
      l.queue.length = kept;
    }
    return next;
  }

  /** The item that would be dequeued next, without removing it. */
  peek(): T | undefined {
    for (const l of this.levels) {
      if (l.queue.length > 0) return l.queue[0];
      if (l.delayed.length > 0) return l.delayed[0];
    }
    return undefined;
  }

  /** Visits items in dequeue order without removing them, until `visit` returns false. */
  forEachInOrder(visit: (item: T) => boolean): void {
    for (const l of this.levels) for (const list of [l.queue, l.delayed]) for (const item of list) if (!visit(item)) return;
  }

  /**
   * Removes and returns, in dequeue order, the items `take` accepts, stopping at the first it refuses
   * (returns false) or when it says the batch is complete (returns "last"). Batches keep queue order.
   */
  takeWhile(take: (item: T) => boolean | "last"): T[] {
    const out: T[] = [];
    for (const l of this.levels) {
      for (const list of [l.queue, l.delayed]) {
        let n = 0;
        let stop = false;
        while (n < list.length) {
          const verdict = take(list[n]!);
          if (verdict === false) {
            stop = true;
            break;
          }
          out.push(list[n]!);
          n++;
          if (verdict === "last") {
            stop = true;
            break;
          }
        }
        if (n > 0) list.splice(0, n);
        this.size -= n;
        if (stop) return out;
      }
    }
    return out;
  }

  /** Removes everything (retire with nothing able to run it). */
  drain(): T[] {
    const out: T[] = [];
    for (const l of this.levels) {
      out.push(...l.queue, ...l.delayed);
      l.queue = [];
      l.delayed = [];
    }
    this.size = 0;
    return out;
  }
}
