// `--workers N`: the load runs in N worker threads (a piscina pool), each with its own client and its share of
// the concurrency or rate. Rotating a window asks every worker for its window (HDR histograms encoded) and
// merges them, so windows, stability and reports work on the merged data as with one thread.
import { MessageChannel, type MessagePort } from "node:worker_threads";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import type { LoadGenerator } from "./generator.ts";
import { Window } from "./window.ts";
import { addWireWindow, type WireWindow, type WorkerTask } from "./worker-wire.ts";

/** The worker body next to this module: .js when built, .ts under type stripping. */
function taskFile(): string {
  const ext = extname(fileURLToPath(import.meta.url));
  return fileURLToPath(new URL(`./worker-task${ext}`, import.meta.url));
}

/** A pool of `threads` load threads for one bench run. */
export function createLoadPool(threads: number): Piscina {
  // One long task per thread per level; atomics off so an idle worker waits on its event loop, not a futex.
  return new Piscina({ filename: taskFile(), minThreads: threads, maxThreads: threads, idleTimeout: 60_000, atomics: "disabled", concurrentTasksPerWorker: 1 });
}

interface Reply {
  type: "window";
  id: number;
  window: WireWindow;
  elu: number;
  inFlight: number;
  maxInFlight: number;
  capDelayed: number;
}

export class WorkerGenerator implements LoadGenerator {
  readonly workers: number;
  #pool: Piscina;
  #tasks: Omit<WorkerTask, "port">[];
  #openLoop: boolean;
  #ports: MessagePort[] = [];
  #runs: Promise<unknown>[] = [];
  #pending = new Map<number, { replies: Reply[]; resolve: (r: Reply[]) => void }>();
  #next = 0;
  #window: Window;
  #inFlight: number[] = [];
  #maxInFlight: number[] = [];
  /** Open loop: requests the workers held at their --max-outstanding share, since start. */
  capDelayed = 0;
  /** Event-loop utilisation of each worker over the last rotated window. */
  lastUtilization: number[] = [];

  constructor(pool: Piscina, tasks: Omit<WorkerTask, "port">[], openLoop: boolean) {
    this.#pool = pool;
    this.#tasks = tasks;
    this.workers = tasks.length;
    this.#openLoop = openLoop;
    this.#window = new Window(performance.now(), openLoop);
  }

  get inFlight(): number {
    return this.#inFlight.reduce((a, b) => a + b, 0);
  }

  get maxInFlight(): number {
    return this.#maxInFlight.reduce((a, b) => a + b, 0);
  }

  /** Only the start time of this window is meaningful: requests are counted in the workers. */
  get window(): Window {
    return this.#window;
  }

  start(): void {
    for (const task of this.#tasks) {
      const { port1, port2 } = new MessageChannel();
      port1.on("message", (msg: Reply) => {
        const p = this.#pending.get(msg.id);
        if (!p) return;
        p.replies.push(msg);
        if (p.replies.length === this.workers) {
          this.#pending.delete(msg.id);
          p.resolve(p.replies);
        }
      });
      this.#ports.push(port1);
      this.#runs.push(this.#pool.run({ ...task, port: port2 }, { transferList: [port2] as never }));
    }
    this.#window = new Window(performance.now(), this.#openLoop);
  }

  #ask(type: "rotate" | "stop"): Promise<Reply[]> {
    const id = this.#next++;
    const done = new Promise<Reply[]>((resolve) => this.#pending.set(id, { replies: [], resolve }));
    for (const port of this.#ports) port.postMessage({ type, id });
    // A worker that died (an exception in its task) never answers: fail instead of hanging.
    return Promise.race([done, Promise.all(this.#runs).then(() => done)]);
  }

  #merge(replies: Reply[], endMs: number): Window {
    const merged = new Window(this.#window.startMs, this.#openLoop);
    for (const r of replies) addWireWindow(merged, r.window);
    this.#inFlight = replies.map((r) => r.inFlight);
    this.#maxInFlight = replies.map((r) => r.maxInFlight);
    this.capDelayed = replies.reduce((n, r) => n + r.capDelayed, 0);
    this.lastUtilization = replies.map((r) => Math.round(r.elu * 1000) / 1000);
    return merged.close(endMs);
  }

  async rotate(): Promise<Window> {
    const replies = await this.#ask("rotate");
    const now = performance.now();
    const ended = this.#merge(replies, now);
    this.#window.destroy();
    this.#window = new Window(now, this.#openLoop);
    return ended;
  }

  async stop(): Promise<Window> {
    const replies = await this.#ask("stop");
    const ended = this.#merge(replies, performance.now());
    await Promise.all(this.#runs);
    for (const p of this.#ports) p.close();
    this.#ports = [];
    this.#runs = [];
    this.#window.destroy();
    return ended;
  }
}
