// The per-version runner of a decoupled model. Its requests do not go through an instance queue (the
// backend answers over time from timers); this tracks them so that unloading waits until every one
// has sent its final response, as Triton waits for in-flight requests.
import { ServerError } from "../core/errors.ts";
import type { CheckedInput } from "../backends/backend.ts";
import type { DecoupledBackendModel, Respond } from "../backends/js-backend.ts";
import type { ScheduledExecution, Scheduler } from "./scheduler.ts";

export class DecoupledScheduler implements Scheduler {
  readonly instanceCount: number;
  private readonly modelName: string;
  private readonly model: DecoupledBackendModel;
  private readonly inflight = new Set<Promise<void>>();
  private retiring = false;
  private retired: Promise<void> | undefined;

  constructor(modelName: string, model: DecoupledBackendModel, instanceCount: number) {
    this.modelName = modelName;
    this.model = model;
    this.instanceCount = instanceCount;
  }

  submit(): Promise<ScheduledExecution> {
    return Promise.reject(new ServerError("INTERNAL", `model '${this.modelName}' is decoupled; its requests run through run(), not submit()`));
  }

  /** Runs one request; settles after its final response (or its error). */
  run(inputs: CheckedInput[], batchSize: number, respond: Respond, signal: AbortSignal): Promise<void> {
    if (this.retiring) return Promise.reject(new ServerError("UNAVAILABLE", `model '${this.modelName}' is being unloaded or reloaded`));
    let running: Promise<void>;
    try {
      running = this.model.run(inputs, batchSize, respond, signal);
    } catch (err) {
      running = Promise.reject(err);
    }
    const tracked = running.then(
      () => {},
      () => {},
    );
    this.inflight.add(tracked);
    void tracked.then(() => this.inflight.delete(tracked));
    return running;
  }

  retire(): Promise<void> {
    this.retired ??= (async () => {
      this.retiring = true;
      await Promise.allSettled([...this.inflight]);
    })();
    return this.retired;
  }
}
