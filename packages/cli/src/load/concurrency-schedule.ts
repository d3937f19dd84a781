// `--concurrency-schedule`: closed-loop steps of fixed duration instead of levels that run until stable,
// for load shapes (steps, ramps, periodic ramps as perf_analyzer's --periodic-concurrency-range).
//   "4@10s,16@10s"      concurrency 4 for 10 s, then 16 for 10 s
//   "1..16:x2@2s"       a ramp: 1, 2, 4, 8, 16, each for 2 s (any range expression of -c)
//   "1..8:x2@1s*3"      the whole schedule three times (a periodic ramp); "*N" ends the expression
// Durations take ms, s or m (ms when absent). Each step is a level of its own in the results.
import { parseRange } from "../range.ts";

export interface ScheduleStep {
  concurrency: number;
  durationMs: number;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };
/** Keeps a typo ("1..64@1s*1000") from planning a day of load. */
export const MAX_SCHEDULE_STEPS = 10_000;

function duration(text: string, where: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new RangeError(`${where}: duration "${text}" must be a number with an optional unit ms, s or m (e.g. 500ms, 10s)`);
  const ms = Number(m[1]) * UNIT_MS[m[2] ?? "ms"]!;
  if (!(ms >= 1)) throw new RangeError(`${where}: duration "${text}" is under 1 ms`);
  return ms;
}

export function parseConcurrencySchedule(text: string): ScheduleStep[] {
  const where = `concurrency schedule "${text}"`;
  let body = text.trim();
  let repeat = 1;
  const rep = /\*\s*(\d+)\s*$/.exec(body);
  if (rep) {
    repeat = Number(rep[1]);
    if (!Number.isSafeInteger(repeat) || repeat < 1) throw new RangeError(`${where}: repeat count "*${rep[1]}" must be >= 1`);
    body = body.slice(0, rep.index);
  }
  if (body.trim() === "") throw new RangeError(`${where}: no steps; expected e.g. "4@10s,16@10s" or "1..16:x2@2s*3"`);
  const once: ScheduleStep[] = [];
  for (const part of body.split(",")) {
    const at = part.lastIndexOf("@");
    if (at <= 0) throw new RangeError(`${where}: step "${part.trim()}" must be CONCURRENCY@DURATION (e.g. 8@5s) or RANGE@DURATION (e.g. 1..16:x2@2s)`);
    let levels: number[];
    try {
      levels = parseRange(part.slice(0, at).trim());
    } catch (err) {
      throw new RangeError(`${where}: ${(err as Error).message}`);
    }
    const ms = duration(part.slice(at + 1), where);
    for (const c of levels) once.push({ concurrency: c, durationMs: ms });
  }
  if (once.length * repeat > MAX_SCHEDULE_STEPS) throw new RangeError(`${where}: ${once.length * repeat} steps; at most ${MAX_SCHEDULE_STEPS}`);
  const steps: ScheduleStep[] = [];
  for (let r = 0; r < repeat; r++) steps.push(...once);
  return steps;
}
