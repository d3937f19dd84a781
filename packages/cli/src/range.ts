// Parses the sweep syntax of `iaas bench --concurrency`, `--request-rate` and `--instances`.
//   N        one level
//   A..B     A, 2A, 4A, ... up to B, plus B itself when the doubling steps over it (1..64 -> 1,2,4,...,64)
//   A..B:S   A, A+S, A+2S, ... while <= B (perf_analyzer's start:end:step)
//   A..B:xF  A, A*F, A*F^2, ... while <= B (F > 1; integer sweeps round each level and skip repeats)

/** Upper bound on one level: beyond this a closed loop says more about the client machine than the server. */
export const MAX_LEVEL = 16384;
/** Upper bound on a request rate (requests/s): a single Node process cannot schedule more. */
export const MAX_RATE = 1_000_000;

const INT_SYNTAX = "expected N, A..B (doubling), A..B:STEP or A..B:xFACTOR, e.g. 8, 1..64, 4..32:4 or 1..64:x4";
const RATE_SYNTAX = "expected R, A..B (doubling), A..B:STEP or A..B:xFACTOR in requests/s, e.g. 200, 100..800, 50..200:50 or 10..1000:x10";

interface Kind {
  integer: boolean;
  min: number;
  max: number;
  syntax: string;
}

const INTEGER: Kind = { integer: true, min: 1, max: MAX_LEVEL, syntax: INT_SYNTAX };
const RATE: Kind = { integer: false, min: 0.001, max: MAX_RATE, syntax: RATE_SYNTAX };

function parseNumber(text: string, what: string, input: string, kind: Kind): number {
  const pattern = kind.integer ? /^\d+$/ : /^(\d+(\.\d*)?|\.\d+)$/;
  if (!pattern.test(text)) throw new RangeError(`invalid ${what} "${text}" in range "${input}": ${kind.syntax}`);
  const n = Number(text);
  if (n < kind.min) throw new RangeError(`invalid ${what} ${n} in range "${input}": must be at least ${kind.min}`);
  if (n > kind.max) throw new RangeError(`invalid ${what} ${n} in range "${input}": must be at most ${kind.max}`);
  return n;
}

// Decimal steps accumulate binary rounding error (0.1 + 0.2); levels are kept to 6 decimals.
const tidy = (v: number) => Math.round(v * 1e6) / 1e6;

function parse(input: string, kind: Kind): number[] {
  const text = input.trim();
  if (text === "") throw new RangeError(`empty range: ${kind.syntax}`);
  const dots = text.indexOf("..");
  if (dots < 0) return [parseNumber(text, "value", input, kind)];

  const rest = text.slice(dots + 2);
  const colon = rest.indexOf(":");
  const start = parseNumber(text.slice(0, dots), "start", input, kind);
  const end = parseNumber(colon < 0 ? rest : rest.slice(0, colon), "end", input, kind);
  if (start > end) throw new RangeError(`invalid range "${input}": start ${start} is greater than end ${end}`);
  const slack = end * 1e-9;

  const levels: number[] = [];
  if (colon < 0) {
    for (let v = start; v <= end + slack; v *= 2) levels.push(tidy(v));
    if (levels[levels.length - 1] !== end) levels.push(end);
    return levels;
  }
  const stepText = rest.slice(colon + 1);
  if (stepText.startsWith("x")) {
    const factorText = stepText.slice(1);
    if (!/^(\d+(\.\d*)?|\.\d+)$/.test(factorText)) throw new RangeError(`invalid factor "${factorText}" in range "${input}": ${kind.syntax}`);
    const factor = Number(factorText);
    if (!(factor > 1)) throw new RangeError(`invalid factor ${factor} in range "${input}": must be greater than 1`);
    for (let v = start; v <= end + slack; v *= factor) {
      const level = kind.integer ? Math.round(v) : tidy(v);
      if (level !== levels[levels.length - 1]) levels.push(level);
    }
    return levels;
  }
  const step = parseNumber(stepText, "step", input, kind);
  for (let i = 0; ; i++) {
    const v = start + i * step;
    if (v > end + slack) break;
    levels.push(tidy(v));
  }
  return levels;
}

/** Integer levels (concurrency, instance counts) in increasing order; throws a RangeError saying what is wrong. */
export function parseRange(input: string): number[] {
  return parse(input, INTEGER);
}

/** Request rates in requests/s (decimals allowed) in increasing order; throws a RangeError saying what is wrong. */
export function parseRateRange(input: string): number[] {
  return parse(input, RATE);
}
