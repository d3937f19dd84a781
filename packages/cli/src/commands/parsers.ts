// commander argument parsers: each rejects a bad value with InvalidArgumentError (usage error, exit 2).
import { InvalidArgumentError } from "commander";
import { parseThreshold } from "../gate/thresholds.ts";
import { parseRange, parseRateRange } from "../range.ts";
import { parseShapeOption } from "../inputs/shapes.ts";

export function integerAtLeast(min: number): (value: string) => number {
  return (value) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected an integer >= ${min}.`);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}.`);
    return n;
  };
}

export function port(value: string): number {
  const n = integerAtLeast(0)(value);
  if (n > 65535) throw new InvalidArgumentError("expected a port number 0..65535 (0 picks a free port).");
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a number > 0.");
  return n;
}

export function percentile(value: string): number | "avg" {
  if (value.trim() === "avg") return "avg";
  const n = Number(value);
  if (value.trim() === "" || !(n > 0 && n < 100)) throw new InvalidArgumentError("expected a percentile between 0 and 100, e.g. 99 or 99.9.");
  return n;
}

export function range(value: string): number[] {
  try {
    return parseRange(value);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}.`);
  }
}

export function rateRange(value: string): number[] {
  try {
    return parseRateRange(value);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}.`);
  }
}

/** "10%" or "10" (percent) -> 0.1. */
export function percentage(value: string): number {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*%?\s*$/.exec(value);
  if (!m) throw new InvalidArgumentError('expected a percentage such as "10%" or "10".');
  return Number(m[1]) / 100;
}

/** Repeatable --fail-if EXPRESSION (checked, collected into a list). */
export function threshold(value: string, previous: string[] | undefined): string[] {
  try {
    parseThreshold(value);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}.`);
  }
  return [...(previous ?? []), value];
}

/** Repeatable --shape NAME:d1,d2 (collected into a list). */
export function shape(value: string, previous: string[] | undefined): string[] {
  try {
    parseShapeOption(value);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}.`);
  }
  return [...(previous ?? []), value];
}

/** Repeatable -H "Name: value" (collected into a record). */
export function header(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const colon = value.indexOf(":");
  if (colon <= 0) throw new InvalidArgumentError('expected "Name: value".');
  return { ...previous, [value.slice(0, colon).trim().toLowerCase()]: value.slice(colon + 1).trim() };
}

/** Repeatable option collected into a list (e.g. -m a -m b). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
