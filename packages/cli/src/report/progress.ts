// The live progress line on a terminal: one line per measurement window, overwritten in place, cleared before
// the level's table row is printed. Nothing at all when the stream is not a TTY (CI logs, pipes, files).
import type { WindowStats } from "../load/window.ts";

export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

export interface Progress {
  window(level: string, stats: WindowStats, index: number): void;
  /** Erases the progress line, so the next output starts on a clean line. */
  clear(): void;
}

/** One-line summary of a window, as shown by the progress line and by --verbose. */
export function formatWindow(level: string, s: WindowStats, index: number): string {
  const selected = s.latencyUs.selected.percentile === "avg" ? "avg" : `p${s.latencyUs.selected.percentile}`;
  const sent = s.openLoop ? `, sent ${(s.openLoop.sentRate ?? s.openLoop.achievedRate).toFixed(1)}/s, ${s.openLoop.late} late` : "";
  return `${level} window ${index + 1}: ${s.throughput.toFixed(1)} infer/s${sent}, p50 ${s.latencyUs.p50} us, ${selected} ${s.latencyUs.selected.value} us, ${s.requests} requests, ${s.errorCount} errors`;
}

export function createProgress(stream: ProgressStream): Progress {
  if (stream.isTTY !== true) return { window() {}, clear() {} };
  let shown = false;
  return {
    window(level, stats, index) {
      // \r returns to column 0, ESC[K erases what a longer previous line left behind.
      stream.write(`\r${formatWindow(level, stats, index)}\x1b[K`);
      shown = true;
    },
    clear() {
      if (shown) stream.write("\r\x1b[K");
      shown = false;
    },
  };
}
