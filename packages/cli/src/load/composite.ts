// Several load generators as one: one per model for `-m a:3 -m b:1`. Their windows rotate together and are
// merged (HDR histograms added, counts summed) into the window the level runner sees, so stability and
// thresholds apply to the total; each part's windows are kept for the per-model results.
import type { LoadGenerator } from "./generator.ts";
import type { StabilityLatency } from "./histogram.ts";
import { windowStats, Window, type WindowStats } from "./window.ts";

export interface CompositePart {
  /** The model this part loads. */
  name: string;
  weight: number;
  /** Its share of the load: concurrency or requests/s. */
  load: number;
  gen: LoadGenerator;
  batchSize: number;
}

/** One model's numbers in a multi-model level (its last merged windows). */
export interface ModelShare extends WindowStats {
  model: string;
  weight: number;
  load: number;
}

function mergeInto(target: Window, w: Window): void {
  target.hist.add(w.hist);
  if (target.sendHist && w.sendHist) target.sendHist.add(w.sendHist);
  target.addCounts(w);
}

/**
 * Splits an integer total by weight (largest remainder); parts may get 0. Used for concurrency; a rate is
 * split proportionally without rounding.
 */
export function splitByWeight(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    out[i]!++;
  }
  return out;
}

export class CompositeGenerator implements LoadGenerator {
  readonly parts: readonly CompositePart[];
  readonly #openLoop: boolean;
  /** Every rotated window of each part, in order (index = part). */
  readonly partWindows: Window[][];
  #window: Window;

  constructor(parts: CompositePart[], openLoop: boolean) {
    if (parts.length === 0) throw new RangeError("a composite load needs at least one part");
    this.parts = parts;
    this.#openLoop = openLoop;
    this.partWindows = parts.map(() => []);
    this.#window = new Window(performance.now(), openLoop);
  }

  get inFlight(): number {
    return this.parts.reduce((n, p) => n + p.gen.inFlight, 0);
  }

  get maxInFlight(): number {
    return this.parts.reduce((n, p) => n + p.gen.maxInFlight, 0);
  }

  get window(): Window {
    return this.#window;
  }

  start(): void {
    for (const p of this.parts) p.gen.start();
    this.#window = new Window(performance.now(), this.#openLoop);
  }

  /** Count windows: resolves once the parts together completed `count` requests. */
  async whenCompleted(count: number): Promise<void> {
    for (;;) {
      const done = this.parts.reduce((n, p) => n + p.gen.window.completed, 0);
      if (done >= count) return;
      // Each part's share, then check the total again (a slow part must not hold up the window forever).
      await Promise.race(this.parts.map((p) => p.gen.window.whenCompleted(p.gen.window.completed + 1)));
    }
  }

  #merge(windows: Window[], endMs: number): Window {
    const merged = new Window(this.#window.startMs, this.#openLoop);
    for (const [i, w] of windows.entries()) {
      mergeInto(merged, w);
      this.partWindows[i]!.push(w);
    }
    return merged.close(endMs);
  }

  rotate(): Window {
    // Parts are in-thread loops (several models do not combine with worker threads): rotation is synchronous.
    const windows = this.parts.map((p) => p.gen.rotate() as Window);
    const now = performance.now();
    const ended = this.#merge(windows, now);
    this.#window.destroy();
    this.#window = new Window(now, this.#openLoop);
    return ended;
  }

  async stop(drainMs?: number): Promise<Window> {
    const windows = await Promise.all(this.parts.map((p) => p.gen.stop(drainMs)));
    const ended = this.#merge(windows, performance.now());
    this.#window.destroy();
    return ended;
  }

  /**
   * Per-part numbers over the windows runLevel merged: `measured` are the indices (in rotation order, the
   * warm-up window being index 0 when there was one) of those windows.
   */
  shares(measured: readonly number[], percentile: StabilityLatency): ModelShare[] {
    return this.parts.map((p, i) => {
      const windows = measured.map((k) => this.partWindows[i]![k]!).filter((w) => w !== undefined);
      const merged = new Window(0, this.#openLoop);
      let durationMs = 0;
      for (const w of windows) {
        mergeInto(merged, w);
        durationMs += w.durationMs;
      }
      const stats = windowStats(merged, durationMs, p.batchSize, percentile);
      merged.destroy();
      return { model: p.name, weight: p.weight, load: p.load, ...stats };
    });
  }

  destroy(): void {
    for (const list of this.partWindows) for (const w of list) w.destroy();
    for (const list of this.partWindows) list.length = 0;
  }
}
