// --validate: compare a response's outputs with the expected outputs of the data file, byte for byte
// (perf_analyzer's validation compares raw bytes too), and say where the first difference is.
import type { InferResult, Tensor } from "@iaas/client";

/** A response that differs from its expected outputs; counted as an error of code "validation". */
export class ValidationError extends Error {
  readonly code = "validation";
  constructor(message: string) {
    super(message);
    this.name = "ValidationError";
  }
}

function elementText(t: Tensor, i: number): string {
  if (t.datatype === "BYTES") return JSON.stringify(t.strings()[i]);
  const values = t.toJSONData() as unknown[];
  return String(values[i]);
}

/** The first difference between `actual` and `expected`, or undefined when they are equal. */
export function tensorMismatch(actual: Tensor, expected: Tensor): string | undefined {
  if (actual.datatype !== expected.datatype) return `datatype ${actual.datatype}, expected ${expected.datatype}`;
  if (actual.size !== expected.size) return `shape [${actual.shape.join(",")}] (${actual.size} elements), expected [${expected.shape.join(",")}] (${expected.size})`;
  const a = actual.toRaw();
  const e = expected.toRaw();
  if (a.byteLength === e.byteLength && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(e.buffer, e.byteOffset, e.byteLength)) === 0)
    return undefined;
  if (actual.datatype === "BYTES") {
    const as = actual.strings();
    const es = expected.strings();
    const i = as.findIndex((s, k) => s !== es[k]);
    return `element ${i} is ${JSON.stringify(as[i])}, expected ${JSON.stringify(es[i])}`;
  }
  const width = a.byteLength / actual.size;
  for (let i = 0; i < actual.size; i++) {
    const off = i * width;
    for (let b = 0; b < width; b++)
      if (a[off + b] !== e[off + b]) return `element ${i} is ${elementText(actual, i)}, expected ${elementText(expected, i)}`;
  }
  return `bytes differ`;
}

/**
 * Throws a ValidationError at the first expected output that is missing or differs. `readOutput` turns a
 * data-less output (written to shared memory) into one with data.
 */
export function validateResult(result: InferResult, expected: readonly Tensor[], request: number, readOutput?: (t: Tensor) => Tensor): void {
  for (const want of expected) {
    let got = result.outputs.find((o) => o.name === want.name);
    if (got === undefined)
      throw new ValidationError(`request ${request}: output "${want.name}" missing from the response (outputs: ${result.outputs.map((o) => o.name).join(", ") || "none"})`);
    if (got.sharedMemory !== undefined && readOutput) got = readOutput(got);
    const diff = tensorMismatch(got, want);
    if (diff !== undefined) throw new ValidationError(`request ${request}: output "${want.name}": ${diff}`);
  }
}
