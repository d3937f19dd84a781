// Latency histograms: HdrHistogram with a fixed range so recording never allocates or resizes.
// The WebAssembly build records in ~23 ns against ~58 ns for the plain JS Int32 one (measured on the
// dev machine with hdr-histogram-js 3.0.1); both are far below one request's cost, so JS is the fallback.
import * as hdr from "hdr-histogram-js";

/** Recorded range: 1 us .. 60 s at 3 significant digits. Longer latencies are clamped to the top. */
export const LOWEST_US = 1;
export const HIGHEST_US = 60_000_000;

let wasmReady: Promise<boolean> | undefined;
let useWasm = false;

/**
 * Loads the WebAssembly implementation once; resolves false when it is not usable. Await it before creating
 * histograms that will be merged: WebAssembly and JS histograms cannot be added to each other.
 */
export function initHistograms(): Promise<boolean> {
  wasmReady ??= hdr.initWebAssembly().then(
    () => (useWasm = true),
    () => false,
  );
  return wasmReady;
}

export type LatencyHistogram = hdr.Histogram;

export function createHistogram(): LatencyHistogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: LOWEST_US,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: useWasm,
  });
}

/** Latency statistics in microseconds. */
export interface LatencySummary {
  avg: number;
  min: number;
  max: number;
  stddev: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  /** The 99.9th percentile. */
  p999: number;
  /** The latency checked for stability: a percentile (--percentile) or, by default, the average. */
  selected: { percentile: StabilityLatency; value: number };
}

/** A percentile in (0, 100), or "avg" for the mean latency (perf_analyzer's default). */
export type StabilityLatency = number | "avg";

export function summarize(h: LatencyHistogram, percentile: StabilityLatency): LatencySummary {
  const empty = h.totalCount === 0;
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    avg: empty ? 0 : round(h.mean),
    min: empty ? 0 : h.minNonZeroValue,
    max: empty ? 0 : h.maxValue,
    stddev: empty ? 0 : round(h.stdDeviation),
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p95: h.getValueAtPercentile(95),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    selected: { percentile, value: percentile === "avg" ? (empty ? 0 : round(h.mean)) : h.getValueAtPercentile(percentile) },
  };
}

/** How `encodeHistogram` writes a histogram; `decodeHistogram` (or any HdrHistogram library) reads it back. */
export const HISTOGRAM_ENCODING = "HdrHistogram V2 compressed, base64 (hdr-histogram-js encodeIntoCompressedBase64), values in microseconds";

export function encodeHistogram(h: LatencyHistogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Decodes a histogram written by `encodeHistogram` (a plain JS histogram: the caller need not destroy it). */
export function decodeHistogram(encoded: string): LatencyHistogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}

/**
 * Decodes into the same implementation as createHistogram (WebAssembly when loaded), so that it can be added
 * to one; destroy it after use.
 */
export function decodeHistogramForMerge(encoded: string): LatencyHistogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, useWasm);
}
