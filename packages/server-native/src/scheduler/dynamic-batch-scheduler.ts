// Triton's dynamic batcher, for models with `dynamic_batching`: queued requests whose inputs have the
// same non-batch dims are merged, up to max_batch_size batch elements, into one native execution. The
// merged request hands the addon every request's own buffers (an array of parts per tensor): the
// instance thread joins the inputs and splits the outputs straight into each request's output buffers,
// so nothing is copied on the JS thread and outputs placed in shared memory are written in place.
//
// Batch forming, when an instance is idle: take compatible requests from the head of the queue (in
// priority order, stopping at the first that does not fit); send the batch at once when it reached
// max_batch_size, when it cannot grow (the next request does not fit), or when the oldest request has
// waited max_queue_delay_microseconds; otherwise wait for that delay. A batch sent before it is full is
// cut to the largest preferred_batch_size it can make. Queue policies (priority levels, max_queue_size,
// timeouts with REJECT / DELAY) are in queue-policy.ts.
import { ServerError } from "../core/errors.ts";
import type { BatchedExecuteRequest, ExecuteRequest, ExecuteTimings, NativeInstance } from "../native/types.ts";
import type { DynamicBatchingConfig, ModelConfig } from "../repository/model-config.ts";
import type { ModelInstance } from "./model-instance.ts";
import { PriorityQueues, QueueRejection, type QueuedItem } from "./queue-policy.ts";
import type { ScheduledExecution, Scheduler, SubmitOptions } from "./scheduler.ts";

interface Job extends QueuedItem {
  request: ExecuteRequest;
  batchSize: number;
  shapeKey: string;
  alone: boolean;
  enqueuedAt: bigint;
  /** Arrival order, for preserve_ordering. */
  seq: number;
  resolve(result: ScheduledExecution): void;
  reject(err: unknown): void;
}

type Settlement = { ok: true; value: ScheduledExecution } | { ok: false; error: unknown };

export class DynamicBatchScheduler implements Scheduler {
  private readonly modelName: string;
  private readonly instances: ModelInstance[];
  private readonly idle: ModelInstance[];
  private readonly maxBatch: number;
  private readonly preferred: number[];
  private readonly delayNs: bigint;
  private readonly preserveOrdering: boolean;
  private readonly queues: PriorityQueues<Job>;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0n;
  private running = 0;
  private nextSeq = 0;
  /** preserve_ordering: the next arrival number to settle, and settlements waiting for earlier ones. */
  private nextToSettle = 0;
  private readonly held = new Map<number, { job: Job; settlement: Settlement }>();
  private retiring = false;
  private retired: Promise<void> | undefined;
  private drained: (() => void) | undefined;

  /**
   * `native`: the instances are addon instances, which take a batch as per-request parts. TypeScript
   * instances cannot, so their requests run one at a time (queue policies still apply).
   */
  constructor(config: ModelConfig, instances: ModelInstance[], native: boolean) {
    const db: DynamicBatchingConfig = config.dynamic_batching ?? {};
    this.modelName = config.name;
    this.instances = instances;
    this.idle = [...instances].reverse();
    // A model without a batch dimension still gets the queue policies; each request runs alone.
    this.maxBatch = native ? Math.max(1, config.max_batch_size) : 1;
    this.preferred = [...(db.preferred_batch_size ?? [])].sort((a, b) => b - a);
    this.delayNs = BigInt(db.max_queue_delay_microseconds ?? 0) * 1000n;
    this.preserveOrdering = db.preserve_ordering === true;
    this.queues = new PriorityQueues<Job>(db);
  }

  get instanceCount(): number {
    return this.instances.length;
  }

  /** Requests waiting for an instance (for tests and diagnostics). */
  get queued(): number {
    return this.queues.length;
  }

  submit(request: ExecuteRequest, _sequence?: unknown, options?: SubmitOptions): Promise<ScheduledExecution> {
    if (this.retiring) return Promise.reject(new ServerError("UNAVAILABLE", `model '${this.modelName}' is being unloaded or reloaded`));
    const now = process.hrtime.bigint();
    const { level, deadlineNs } = this.queues.placement(options?.priority, options?.timeoutUs, now);
    let job!: Job;
    const promise = new Promise<ScheduledExecution>((resolve, reject) => {
      job = {
        request,
        batchSize: Math.max(1, options?.batchSize ?? 1),
        shapeKey: options?.shapeKey ?? "",
        alone: options?.alone === true || this.maxBatch === 1,
        enqueuedAt: now,
        level,
        deadlineNs,
        delayed: false,
        seq: -1,
        resolve,
        reject,
      };
    });
    try {
      this.queues.push(job, this.modelName);
    } catch (err) {
      return Promise.reject(err);
    }
    job.seq = this.nextSeq++;
    this.schedule();
    return promise;
  }

  /** Forms and sends batches while instances are idle and a batch is ready; arms the timer otherwise. */
  private schedule(): void {
    const now = process.hrtime.bigint();
    const expired: Job[] = [];
    const nextDeadline = this.queues.expire(now, expired);
    for (const job of expired) {
      const waitedUs = (now - job.enqueuedAt) / 1000n;
      this.settle(job, { ok: false, error: new QueueRejection("timeout", `Request timeout expired (model '${this.modelName}', queued ${waitedUs} us)`) });
    }
    let wakeAt = nextDeadline;
    while (this.idle.length > 0 && this.queues.length > 0) {
      const { jobs, waitUntil } = this.formBatch(now);
      if (jobs === undefined) {
        if (waitUntil !== 0n && (wakeAt === 0n || waitUntil < wakeAt)) wakeAt = waitUntil;
        break;
      }
      this.run(this.idle.pop()!, jobs);
    }
    this.armTimer(this.queues.length > 0 ? wakeAt : 0n, now);
    this.checkDrained();
  }

  /** The next batch to send now, or the time at which it should be sent (its oldest request's delay). */
  private formBatch(now: bigint): { jobs?: Job[]; waitUntil: bigint } {
    const head = this.queues.peek()!;
    if (head.alone) return { jobs: this.queues.takeWhile(() => "last"), waitUntil: 0n };
    // Cumulative batch sizes of the compatible requests at the head of the queue.
    const cumulative: number[] = [];
    let total = 0;
    let closed = false;
    this.queues.forEachInOrder((job) => {
      if (job.alone || job.shapeKey !== head.shapeKey || total + job.batchSize > this.maxBatch) {
        closed = true;
        return false;
      }
      total += job.batchSize;
      cumulative.push(total);
      return total < this.maxBatch;
    });
    const ready = closed || total >= this.maxBatch || this.retiring;
    const waitUntil = head.enqueuedAt + this.delayNs;
    if (!ready && this.delayNs > 0n && now < waitUntil) return { waitUntil };
    // Sent before it is full: cut to the largest preferred size that a prefix of the queue makes.
    let take = cumulative.length;
    if (total < this.maxBatch && this.preferred.length > 0 && !this.preferred.includes(total)) {
      for (const p of this.preferred) {
        const i = cumulative.indexOf(p);
        if (i >= 0) {
          take = i + 1;
          break;
        }
      }
    }
    let n = 0;
    return { jobs: this.queues.takeWhile(() => (++n >= take ? "last" : true)), waitUntil: 0n };
  }

  private armTimer(at: bigint, now: bigint): void {
    if (at === 0n) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      return;
    }
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    const ms = Number(at - now) / 1e6;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.schedule();
    }, Math.max(0, ms));
  }

  private run(instance: ModelInstance, jobs: Job[]): void {
    this.running++;
    const started = process.hrtime.bigint();
    let size = 0;
    for (const j of jobs) size += j.batchSize;
    let pending: Promise<ExecuteTimings>;
    try {
      if (jobs.length === 1) {
        pending = instance.execute(jobs[0]!.request);
      } else {
        // One list of parts per tensor, in batch order: the addon joins and splits them on its thread.
        const first = jobs[0]!.request;
        const merged: BatchedExecuteRequest = {
          inputs: first.inputs.map((_, i) => jobs.map((j) => j.request.inputs[i]!)),
          outputs: first.outputs.map((_, o) => jobs.map((j) => j.request.outputs[o]!)),
        };
        if (first.batch !== undefined) merged.batch = size;
        pending = (instance as unknown as NativeInstance).execute(merged);
      }
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending
      .then(
        (timings) =>
          jobs.forEach((job, k) =>
            this.settle(job, {
              ok: true,
              value: { queueNs: started - job.enqueuedAt, timings, instance: instance.name, execution: { size, leader: k === 0 } },
            }),
          ),
        (err: unknown) => {
          const error = new ServerError(
            "INTERNAL",
            `model '${this.modelName}' instance '${instance.name}' failed${jobs.length > 1 ? ` (a batch of ${jobs.length} requests)` : ""}: ${(err as Error)?.message ?? String(err)}`,
            { cause: err },
          );
          for (const job of jobs) this.settle(job, { ok: false, error });
        },
      )
      .finally(() => {
        this.running--;
        this.idle.push(instance);
        this.schedule();
      });
  }

  /** Settles a request; with preserve_ordering only after every earlier arrival has settled. */
  private settle(job: Job, settlement: Settlement): void {
    if (!this.preserveOrdering) return deliver(job, settlement);
    this.held.set(job.seq, { job, settlement });
    for (let next = this.held.get(this.nextToSettle); next !== undefined; next = this.held.get(this.nextToSettle)) {
      this.held.delete(this.nextToSettle);
      this.nextToSettle++;
      deliver(next.job, next.settlement);
    }
  }

  private checkDrained(): void {
    if (this.retiring && this.running === 0 && this.queues.length === 0) this.drained?.();
  }

  retire(): Promise<void> {
    this.retired ??= (async () => {
      this.retiring = true;
      // Queued requests still run: a batch waiting for its delay is sent at once.
      if (this.running > 0 || this.queues.length > 0) {
        const done = new Promise<void>((resolve) => (this.drained = resolve));
        this.schedule();
        await done;
      }
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      await Promise.allSettled(this.instances.map((i) => i.close()));
    })();
    return this.retired;
  }
}

function deliver(job: Job, s: Settlement): void {
  if (s.ok) job.resolve(s.value);
  else job.reject(s.error);
}
