// Reading results of Triton's classification extension: BYTES elements "value:index[:label]".
import { InferenceError } from "./errors.ts";
import type { Tensor } from "./tensor.ts";

export interface Classification {
  /** The output's value for the class, as a number. */
  score: number;
  /** The value exactly as the server wrote it (e.g. "0.203772", or a 64-bit integer). */
  value: string;
  /** Index of the class in the model's output. */
  index: number;
  /** The class label, when the model has a label file. */
  label?: string;
}

const utf8 = new TextDecoder("utf-8");

/** Parses one "value:index[:label]" string (the label may itself contain ':'). */
export function parseClassification(text: string): Classification {
  const first = text.indexOf(":");
  const second = first < 0 ? -1 : text.indexOf(":", first + 1);
  const value = first < 0 ? "" : text.slice(0, first);
  const indexText = first < 0 ? "" : second < 0 ? text.slice(first + 1) : text.slice(first + 1, second);
  const score = Number(value);
  const index = Number(indexText);
  const badValue = value === "" || (Number.isNaN(score) && !/^[+-]?nan$/i.test(value));
  if (badValue || !/^\d+$/.test(indexText) || !Number.isSafeInteger(index))
    throw new InferenceError("invalid_argument", `not a classification result ("value:index[:label]"): ${JSON.stringify(text)}`);
  const out: Classification = { score, value, index };
  if (second >= 0) out.label = text.slice(second + 1);
  return out;
}

/**
 * Parses a classified output (BYTES tensor): one list per batch element (the rows of the last
 * dimension), best class first. A 1-D tensor is one row.
 */
export function parseClassifications(tensor: Tensor): Classification[][] {
  if (tensor.datatype !== "BYTES")
    throw new InferenceError("invalid_argument", `output "${tensor.name}" is ${tensor.datatype}; classification results are BYTES (request it with classCount)`);
  const elements = tensor.data as readonly (Uint8Array | string)[];
  const batched = tensor.shape.length >= 2;
  const perRow = batched ? tensor.shape[tensor.shape.length - 1]! : elements.length;
  const rowCount = batched ? tensor.shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
  const rows: Classification[][] = [];
  for (let r = 0; r < rowCount; r++) {
    const row: Classification[] = [];
    for (let i = r * perRow; i < (r + 1) * perRow; i++) {
      const e = elements[i]!;
      row.push(parseClassification(typeof e === "string" ? e : utf8.decode(e)));
    }
    rows.push(row);
  }
  return rows;
}
