// Triton's sequence batcher with the direct strategy, for models with `sequence_batching`: every
// sequence (correlation id) holds one slot of one instance from its START request to its END request,
// so a stateful model can keep per-slot state. Each instance has max(1, max_batch_size) slots. Requests
// of a sequence run one at a time, in arrival order; sequences that find no free slot wait in a FIFO
// backlog and take slots as others end. A sequence with nothing queued or running that receives no
// request for max_sequence_idle_microseconds after its last one finished loses its slot, and its id is
// forgotten (a later request needs START). (Triton counts from the last arrival, so a sequence that
// waited in the backlog that long may lose its slot right after getting it; iaas does not.)
//
// Each request executes alone (no batching across slots); requests of different sequences on the same
// instance take turns in the order they became runnable.
import { ServerError, invalidArg } from "../core/errors.ts";
import type { ExecuteRequest, ExecuteTimings } from "../native/types.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import type { ControlTensor, CorrelationId, ModelInstance, SequenceFlags } from "./model-instance.ts";
import type { ScheduledExecution, Scheduler } from "./scheduler.ts";
import { SequenceControls } from "./sequence-controls.ts";

interface Job {
  request: ExecuteRequest;
  controls: ControlTensor[];
  end: boolean;
  enqueuedAt: bigint;
  resolve(result: ScheduledExecution): void;
  reject(err: unknown): void;
}

interface Worker {
  instance: ModelInstance;
  busy: boolean;
  /** Sequences of this instance whose next request can run, in the order they became runnable. */
  runnable: Sequence[];
}

interface Slot {
  worker: Worker;
  /** Index within its instance: what the model sees as the sequence's slot. */
  index: number;
}

interface Sequence {
  id: CorrelationId;
  slot: Slot | undefined;
  jobs: Job[];
  running: boolean;
  /** In its worker's runnable list. */
  queued: boolean;
  /** No further request joins it (its END request arrived, or it went idle); the slot goes when jobs drain. */
  closed: boolean;
  /** When its latest request arrived or finished (ms, performance.now()). */
  lastActivity: number;
}

/** How often a busy or backlogged sequence is looked at again by the idle reaper (as Triton: 50 ms). */
const BACKLOG_RECHECK_MS = 50;


export class SequenceBatcher implements Scheduler {
  private readonly modelName: string;
  private readonly workers: Worker[];
  private readonly free: Slot[] = [];
  private readonly backlog: Sequence[] = [];
  /** Sequences that still accept requests, by id: in a slot or in the backlog. */
  private readonly open = new Map<CorrelationId, Sequence>();
  private readonly controls: SequenceControls;
  private readonly idleMs: number;
  private reaper: NodeJS.Timeout | undefined;
  private pending = 0;
  private retiring = false;
  private retired: Promise<void> | undefined;
  private drained: (() => void) | undefined;

  constructor(config: ModelConfig, instances: ModelInstance[]) {
    this.modelName = config.name;
    this.controls = new SequenceControls(config);
    this.idleMs = (config.sequence_batching?.max_sequence_idle_microseconds ?? 1_000_000) / 1000;
    const slotsPerInstance = Math.max(1, config.max_batch_size);
    this.workers = instances.map((instance) => ({ instance, busy: false, runnable: [] }));
    // Slot order: the first slot of every instance before any second slot, so sequences spread out.
    for (let s = 0; s < slotsPerInstance; s++) for (const worker of this.workers) this.free.push({ worker, index: s });
  }

  get instanceCount(): number {
    return this.workers.length;
  }

  /** Sequences holding a slot or waiting for one (for tests and diagnostics). */
  get activeSequences(): number {
    return this.open.size;
  }

  submit(request: ExecuteRequest, sequence?: SequenceFlags): Promise<ScheduledExecution> {
    if (this.retiring) return Promise.reject(new ServerError("UNAVAILABLE", `model '${this.modelName}' is being unloaded or reloaded`));
    if (sequence === undefined)
      return Promise.reject(invalidArg(`inference request to model '${this.modelName}' must specify a non-zero or non-empty correlation ID`));
    try {
      return this.enqueue(request, sequence);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private enqueue(request: ExecuteRequest, flags: SequenceFlags): Promise<ScheduledExecution> {
    let seq = this.open.get(flags.id);
    if (seq === undefined && !flags.start)
      throw invalidArg(
        `inference request for sequence ${String(flags.id)} to model '${this.modelName}' must specify the START flag on the first request of the sequence`,
      );
    // Built before queueing so an id the model cannot take (a string for a numeric CORRID) fails alone.
    const controls = this.controls.tensors(flags);
    const now = performance.now();
    // A START for an id that is still open continues in the same slot (as Triton): the model sees START
    // and resets that slot's state.
    if (seq === undefined) {
      seq = { id: flags.id, slot: undefined, jobs: [], running: false, queued: false, closed: false, lastActivity: now };
      this.open.set(flags.id, seq);
      const slot = this.free.shift();
      if (slot === undefined) this.backlog.push(seq);
      else seq.slot = slot;
    }
    seq.lastActivity = now;
    if (flags.end) {
      // Later requests with this id start a new sequence.
      seq.closed = true;
      this.open.delete(flags.id);
    }
    this.pending++;
    const promise = new Promise<ScheduledExecution>((resolve, reject) => {
      seq.jobs.push({ request, controls, end: flags.end, enqueuedAt: process.hrtime.bigint(), resolve, reject });
    });
    this.makeRunnable(seq);
    this.armReaper();
    return promise;
  }

  private makeRunnable(seq: Sequence): void {
    if (seq.slot === undefined || seq.running || seq.queued || seq.jobs.length === 0) return;
    const worker = seq.slot.worker;
    seq.queued = true;
    worker.runnable.push(seq);
    this.dispatch(worker);
  }

  private dispatch(worker: Worker): void {
    if (worker.busy) return;
    const seq = worker.runnable.shift();
    if (seq === undefined) return;
    seq.queued = false;
    const job = seq.jobs.shift()!;
    seq.running = true;
    worker.busy = true;
    const queueNs = process.hrtime.bigint() - job.enqueuedAt;
    let pending: Promise<ExecuteTimings>;
    try {
      pending = worker.instance.execute(job.request, { slot: seq.slot!.index, controls: job.controls });
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending
      .then(
        (timings) => job.resolve({ queueNs, timings, instance: worker.instance.name }),
        (err: unknown) =>
          job.reject(
            err instanceof ServerError
              ? err
              : new ServerError("INTERNAL", `model '${this.modelName}' instance '${worker.instance.name}' failed: ${(err as Error)?.message ?? String(err)}`, {
                  cause: err,
                }),
          ),
      )
      .finally(() => {
        seq.running = false;
        worker.busy = false;
        this.pending--;
        if (job.end) seq.closed = true;
        this.afterRun(seq);
        this.dispatch(worker);
        if (this.retiring && this.pending === 0) this.drained?.();
      });
  }

  private afterRun(seq: Sequence): void {
    seq.lastActivity = performance.now();
    if (seq.jobs.length > 0) return this.makeRunnable(seq);
    // A retiring batcher takes no more requests, so every drained sequence is finished.
    if (seq.closed || this.retiring) this.release(seq);
  }

  /** Frees the sequence's slot; the oldest backlogged sequence takes it. */
  private release(seq: Sequence): void {
    const slot = seq.slot;
    if (slot === undefined) return;
    seq.slot = undefined;
    if (this.open.get(seq.id) === seq) this.open.delete(seq.id);
    const next = this.backlog.shift();
    if (next === undefined) {
      this.free.push(slot);
      return;
    }
    next.slot = slot;
    this.makeRunnable(next);
    if (next.jobs.length === 0 && !next.running && (next.closed || this.retiring)) this.release(next);
  }

  private armReaper(delayMs = this.idleMs): void {
    if (this.reaper !== undefined) return;
    this.reaper = setTimeout(() => this.reap(), Math.max(1, Math.ceil(delayMs)));
    // Sequences left open by a client must not keep the process alive.
    this.reaper.unref();
  }

  private reap(): void {
    this.reaper = undefined;
    const now = performance.now();
    let next = Infinity;
    for (const seq of this.open.values()) {
      const left = this.idleMs - (now - seq.lastActivity);
      if (seq.slot === undefined || seq.running || seq.jobs.length > 0) {
        // Waiting for a slot or for its requests to run is not idle: look again later.
        next = Math.min(next, Math.max(left, BACKLOG_RECHECK_MS));
      } else if (left > 0) {
        next = Math.min(next, left);
      } else {
        seq.closed = true;
        this.open.delete(seq.id);
        this.release(seq);
      }
    }
    if (next !== Infinity) this.armReaper(next);
  }

  retire(): Promise<void> {
    this.retired ??= (async () => {
      this.retiring = true;
      // Sequences with nothing left to run give their slots to the backlog, so queued work can finish.
      for (const seq of [...this.open.values()]) if (seq.slot !== undefined && !seq.running && seq.jobs.length === 0) this.release(seq);
      if (this.pending > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      if (this.reaper !== undefined) clearTimeout(this.reaper);
      this.reaper = undefined;
      this.open.clear();
      await Promise.allSettled(this.workers.map((w) => w.instance.close()));
    })();
    return this.retired;
  }
}
