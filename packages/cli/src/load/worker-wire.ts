// What crosses between the bench thread and its load worker threads: the task (client options, tensors as
// raw bytes, the load share) and each rotated window (HDR histograms encoded, counters).
import type { MessagePort } from "node:worker_threads";
import type { ClientOptions, InferOptions } from "@iaas/client";
import { decodeHistogramForMerge, encodeHistogram } from "./histogram.ts";
import { Window } from "./window.ts";

export interface WireTensor {
  name: string;
  datatype: string;
  shape: number[];
  raw: Uint8Array;
}

export interface WorkerTask {
  /** Messages to and from the bench thread: {type: "rotate"|"stop", id} in, {type: "window", id, window, elu} out. */
  port: MessagePort;
  client: ClientOptions;
  model: string;
  inputs: WireTensor[];
  inferOptions: Omit<InferOptions, "signal">;
  load: { mode: "concurrency"; concurrency: number } | { mode: "open"; intervalsMs: "constant"; rate: number } | { mode: "open"; intervalsMs: "poisson"; rate: number; seed: number } | { mode: "open"; intervalsMs: "replay"; intervalsUs: number[] };
  maxOutstanding?: number;
}

export interface WireWindow {
  startMs: number;
  endMs: number;
  hist: string;
  sendHist?: string;
  successes: number;
  failures: number;
  sent: number;
  late: number;
  maxLateMs: number;
  carriedIn: number;
  lagAtEndMs: number;
  errors: [string, number][];
  errorMessages: [string, string][];
}

export function windowToWire(w: Window): WireWindow {
  return {
    startMs: w.startMs,
    endMs: w.endMs,
    hist: encodeHistogram(w.hist),
    ...(w.sendHist ? { sendHist: encodeHistogram(w.sendHist) } : {}),
    successes: w.successes,
    failures: w.failures,
    sent: w.sent,
    late: w.late,
    maxLateMs: w.maxLateMs,
    carriedIn: w.carriedIn,
    lagAtEndMs: w.lagAtEndMs,
    errors: [...w.errors],
    errorMessages: [...w.errorMessages],
  };
}

/** Adds a worker's window into `target` (the merged window of all workers). */
export function addWireWindow(target: Window, w: WireWindow): void {
  const h = decodeHistogramForMerge(w.hist);
  target.hist.add(h);
  h.destroy();
  if (w.sendHist && target.sendHist) {
    const s = decodeHistogramForMerge(w.sendHist);
    target.sendHist.add(s);
    s.destroy();
  }
  target.addCounts(w);
}
