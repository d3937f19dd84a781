// The seam between front ends and native compute, one per loaded model version. Requests wait in a
// queue and are dispatched to idle model instances; each instance runs one execution at a time on its
// own native thread, so N instances execute N requests concurrently.
//
// This is where dynamic batching and queue policies belong: a batching scheduler implements the same
// interface, merging queued requests before dispatch. The FIFO scheduler here executes each request alone.
import type { ExecuteRequest, ExecuteTimings } from "../native/types.ts";
import { ServerError } from "../core/errors.ts";
import type { ModelInstance, SequenceFlags } from "./model-instance.ts";

export interface ScheduledExecution {
  /** Time spent waiting in the queue, ns. */
  queueNs: bigint;
  timings: ExecuteTimings;
  instance: string;
}

export interface Scheduler {
  readonly instanceCount: number;
  /**
   * Queues one execution; settles when an instance has run it. `sequence`: the request's sequence
   * parameters, given for sequence-batched models (the sequence batcher needs them; others ignore them).
   */
  submit(request: ExecuteRequest, sequence?: SequenceFlags): Promise<ScheduledExecution>;
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
    pending.then(
      (timings) => job.resolve({ queueNs, timings, instance: instance.name }),
      (err: unknown) =>
        job.reject(new ServerError("INTERNAL", `model '${this.modelName}' instance '${instance.name}' failed: ${(err as Error)?.message ?? String(err)}`, { cause: err })),
    ).finally(() => {
      this.running--;
      this.idle.push(instance);
      this.dispatch();
    });
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
