// perf_analyzer's stability rule: the last K windows (3 by default) all have throughput > 0 and agree within
// S% on throughput and on the chosen latency (max / min <= 1 + S/100).
import type { WindowStats } from "./window.ts";

/** perf_analyzer's window count (not configurable there); `--stability-windows` changes it here. */
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

export function isStable(windows: readonly WindowStats[], stabilityPercentage: number, stabilityWindows = STABILITY_WINDOWS): boolean {
  if (windows.length < stabilityWindows) return false;
  const last = windows.slice(-stabilityWindows);
  const ratio = 1 + stabilityPercentage / 100;
  return within(last.map((w) => w.throughput), ratio) && within(last.map((w) => w.latencyUs.selected.value), ratio);
}
