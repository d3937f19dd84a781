// perf_analyzer's stability rule: the last 3 windows all have throughput > 0 and agree within S% on
// throughput and on the chosen latency percentile (max / min <= 1 + S/100).
import type { WindowStats } from "./window.ts";

export const STABILITY_WINDOWS = 3;

function within(values: number[], ratio: number): boolean {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min > 0 && max / min <= ratio;
}

export function isStable(windows: readonly WindowStats[], stabilityPercentage: number): boolean {
  if (windows.length < STABILITY_WINDOWS) return false;
  const last = windows.slice(-STABILITY_WINDOWS);
  const ratio = 1 + stabilityPercentage / 100;
  return within(last.map((w) => w.throughput), ratio) && within(last.map((w) => w.latencyUs.selected.value), ratio);
}
