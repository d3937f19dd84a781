// Open-loop schedules: the gap before each next request, from a target rate (constant or Poisson arrivals)
// or replayed from a list of intervals (perf_analyzer's --request-intervals file, microseconds per line).
import { readFileSync } from "node:fs";
import { seededRandom } from "@iaas/client/protocol";

export type Distribution = "constant" | "poisson";
export const DISTRIBUTIONS: readonly Distribution[] = ["constant", "poisson"];

/** Milliseconds from one scheduled send to the next. */
export type IntervalSource = () => number;

/**
 * `rate` requests/s. Constant: every gap is 1/rate. Poisson: exponentially distributed gaps with mean 1/rate
 * (inverse transform of a seeded uniform), so the same seed replays the same schedule.
 */
export function rateIntervals(rate: number, distribution: Distribution, seed = 1): IntervalSource {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`request rate must be a number > 0, got ${rate}`);
  const mean = 1000 / rate;
  if (distribution === "constant") return () => mean;
  if (distribution !== "poisson") throw new RangeError(`distribution must be "constant" or "poisson", got "${String(distribution)}"`);
  const random = seededRandom(seed);
  // 1 - u is in (0, 1], so the logarithm is finite.
  return () => -Math.log(1 - random()) * mean;
}

/** Replays `intervalsUs` in order, from the start again after the last one. */
export function replayIntervals(intervalsUs: readonly number[]): IntervalSource {
  checkIntervals(intervalsUs, "request intervals");
  const ms = intervalsUs.map((us) => us / 1000);
  let i = 0;
  return () => {
    const gap = ms[i]!;
    i = i + 1 === ms.length ? 0 : i + 1;
    return gap;
  };
}

function checkIntervals(intervalsUs: readonly number[], where: string): void {
  if (intervalsUs.length === 0) throw new RangeError(`${where}: no intervals`);
  let total = 0;
  for (const [i, us] of intervalsUs.entries()) {
    if (!Number.isFinite(us) || us < 0) throw new RangeError(`${where}: interval ${i + 1} is ${us}, expected microseconds >= 0`);
    total += us;
  }
  // All-zero gaps would send an endless burst within one tick.
  if (total <= 0) throw new RangeError(`${where}: the intervals add up to 0 us; at least one must be > 0`);
}

/** Requests per second of a replayed list: one request per interval. */
export function meanRate(intervalsUs: readonly number[]): number {
  const total = intervalsUs.reduce((a, b) => a + b, 0);
  return total > 0 ? Math.round((intervalsUs.length * 1e6 * 1000) / total) / 1000 : 0;
}

/** One interval in microseconds per line; blank lines and lines starting with # are skipped. */
export function parseRequestIntervals(text: string, source = "request intervals"): number[] {
  const out: number[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (!/^(\d+(\.\d*)?|\.\d+)$/.test(line))
      throw new RangeError(`${source}: line ${i + 1} is "${line.length > 40 ? `${line.slice(0, 40)}...` : line}", expected an interval in microseconds (a number >= 0)`);
    out.push(Number(line));
  }
  checkIntervals(out, source);
  return out;
}

export function readRequestIntervals(file: string): number[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new RangeError(`cannot read request intervals file ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  }
  return parseRequestIntervals(text, file);
}
