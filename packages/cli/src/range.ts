// Parses the concurrency sweep syntax of `iaas bench --concurrency`.
//   N        one level
//   A..B     A, 2A, 4A, ... up to B, plus B itself when the doubling steps over it (1..64 -> 1,2,4,...,64)
//   A..B:S   A, A+S, A+2S, ... while <= B (perf_analyzer's start:end:step)

/** Upper bound on one level: beyond this a closed loop says more about the client machine than the server. */
export const MAX_LEVEL = 16384;

const SYNTAX = "expected N, A..B (doubling) or A..B:STEP, e.g. 8, 1..64 or 4..32:4";

function parsePositive(text: string, what: string, input: string): number {
  if (!/^\d+$/.test(text)) throw new RangeError(`invalid ${what} "${text}" in range "${input}": ${SYNTAX}`);
  const n = Number(text);
  if (n < 1) throw new RangeError(`invalid ${what} ${n} in range "${input}": must be at least 1`);
  if (n > MAX_LEVEL) throw new RangeError(`invalid ${what} ${n} in range "${input}": must be at most ${MAX_LEVEL}`);
  return n;
}

/** Levels of a range expression in increasing order; throws a RangeError saying what is wrong. */
export function parseRange(input: string): number[] {
  const text = input.trim();
  if (text === "") throw new RangeError(`empty range: ${SYNTAX}`);
  const dots = text.indexOf("..");
  if (dots < 0) return [parsePositive(text, "value", input)];

  const startText = text.slice(0, dots);
  const rest = text.slice(dots + 2);
  const colon = rest.indexOf(":");
  const endText = colon < 0 ? rest : rest.slice(0, colon);
  const start = parsePositive(startText, "start", input);
  const end = parsePositive(endText, "end", input);
  if (start > end) throw new RangeError(`invalid range "${input}": start ${start} is greater than end ${end}`);

  const levels: number[] = [];
  if (colon < 0) {
    for (let v = start; v <= end; v *= 2) levels.push(v);
    if (levels[levels.length - 1] !== end) levels.push(end);
  } else {
    const step = parsePositive(rest.slice(colon + 1), "step", input);
    for (let v = start; v <= end; v += step) levels.push(v);
  }
  return levels;
}
