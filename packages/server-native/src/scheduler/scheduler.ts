// The seam between front ends and native compute, one per loaded model version. Requests wait in a
// queue and are dispatched to idle model instances; each instance runs one execution at a time on its
// own native thread, so N instances execute N requests concurrently.
//
// The FIFO scheduler here executes each request alone; models with dynamic_batching get the
// DynamicBatchScheduler (dynamic-batch-scheduler.ts), which merges queued requests and applies queue policies.
import type { ExecuteRequest, ExecuteTimings } from "../native/types.ts";
import { ServerError } from "../core/errors.ts";
import type { ModelInstance, SequenceFlags } from "./model-instance.ts";

export interface ScheduledExecution {
  /** Time spent waiting in the queue, ns. */
  queueNs: bigint;
  timings: ExecuteTimings;
  instance: string;
  /**
   * Set by the dynamic batcher: the execution this request was part of. `size` is the batch size the
   * model saw (all merged requests); `leader` is true for exactly one request of each execution, the one
   * whose statistics count the execution (execution_count, batch_stats).
   */
  execution?: { size: number; leader: boolean };
}

/** What the dynamic batcher needs to know about a request besides its buffers. */
export interface SubmitOptions {
  /** Batch elements in this request (dim 0 when the model batches, else 1). */
  batchSize: number;
  /** Requests merge only with requests of equal key (non-batch dims of every input). */
  shapeKey: string;
  /** schedule_policy `priority` (0 / undefined = the model's default level). */
  priority?: number;
  /** schedule_policy `timeout` in microseconds. */
  timeoutUs?: number;
  /** Never merge it with others (e.g. it writes outputs into shared memory). */
  alone?: boolean;
}

export interface Scheduler {
  readonly instanceCount: number;
  /**
   * Queues one execution; settles when an instance has run it. `sequence`: the request's sequence
   * parameters, given for sequence-batched models (the sequence batcher needs them; others ignore them).
   */
  submit(request: ExecuteRequest, sequence?: SequenceFlags, options?: SubmitOptions): Promise<ScheduledExecution>;
  /** Stops taking work, lets queued and running executions finish, then closes the instances. */
  retire(): Promise<void>;
}

interface Job {
  request: ExecuteRequest;
  enqueuedAt: bigint;
  resolve(result: ScheduledExecution): void;
  reject(err: unknown): void;
}

export class FifoScheduler implements Scheduler {
  private readonly instances: ModelInstance[];
  private readonly idle: ModelInstance[];
  private queue: Job[] = [];
  private head = 0;
  private running = 0;
  private retiring = false;
  private retired: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  private readonly modelName: string;

  constructor(modelName: string, instances: ModelInstance[]) {
    this.modelName = modelName;
    this.instances = instances;
    this.idle = [...instances].reverse();
  }

  get instanceCount(): number {
    return this.instances.length;
  }

  submit(request: ExecuteRequest): Promise<ScheduledExecution> {
    if (this.retiring) return Promise.reject(new ServerError("UNAVAILABLE", `model '${this.modelName}' is being unloaded or reloaded`));
    return new Promise((resolve, reject) => {
      this.queue.push({ request, enqueuedAt: process.hrtime.bigint(), resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.head < this.queue.length) {
      const job = this.queue[this.head]!;
      this.queue[this.head++] = undefined as never;
      this.run(this.idle.pop()!, job);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.retiring && this.running === 0 && this.head === this.queue.length) this.drained?.();
  }

  private run(instance: ModelInstance, job: Job): void {
    this.running++;
    const queueNs = process.hrtime.bigint() - job.enqueuedAt;
    let pending: Promise<ExecuteTimings>;
    try {
      pending = instance.execute(job.request);
    } catch (err) {
      pending = Promise.reject(err);
    }
    // One reaction per outcome that settles the job and frees the instance (no .finally(): it would cost
    // a second promise and reaction per request). The instance is free again before the caller resumes.
    pending.then(
      (timings) => {
        job.resolve({ queueNs, timings, instance: instance.name });
        this.release(instance);
      },
      (err: unknown) => {
        job.reject(new ServerError("INTERNAL", `model '${this.modelName}' instance '${instance.name}' failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
        this.release(instance);
      },
    );
  }

  private release(instance: ModelInstance): void {
    this.running--;
    this.idle.push(instance);
    this.dispatch();
  }

  retire(): Promise<void> {
    this.retired ??= (async () => {
      this.retiring = true;
      if (this.running > 0 || this.head < this.queue.length) await new Promise<void>((resolve) => (this.drained = resolve));
      await Promise.allSettled(this.instances.map((i) => i.close()));
    })();
    return this.retired;
  }
}
