// Request shapes from model metadata: the batch dimension, variable (-1) dimensions and --shape overrides.
import type { TensorMetadata } from "@iaas/client";

/** `--shape NAME:d1,d2,...` values, dimensions without the batch dimension (perf_analyzer's convention). */
export type ShapeOverrides = Map<string, number[]>;

/** Parses one `NAME:d1,d2` value; throws a RangeError naming what is wrong. */
export function parseShapeOption(text: string): [string, number[]] {
  const colon = text.lastIndexOf(":");
  if (colon <= 0) throw new RangeError(`invalid --shape "${text}": expected NAME:d1,d2,... e.g. INPUT0:16`);
  const name = text.slice(0, colon);
  const dimsText = text.slice(colon + 1);
  const dims = dimsText.split(",").map((d) => {
    if (!/^\d+$/.test(d.trim())) throw new RangeError(`invalid --shape "${text}": dimension "${d}" is not a non-negative integer`);
    return Number(d.trim());
  });
  return [name, dims];
}

/** Collects repeated --shape options into overrides; a name given twice is an error. */
export function parseShapeOptions(values: readonly string[]): ShapeOverrides {
  const out: ShapeOverrides = new Map();
  for (const v of values) {
    const [name, dims] = parseShapeOption(v);
    if (out.has(name)) throw new RangeError(`--shape given twice for input "${name}"`);
    out.set(name, dims);
  }
  return out;
}

/**
 * Full request shape of each input. When the model batches (maxBatchSize > 0) the first metadata dimension
 * is the batch dimension and becomes `batchSize`; every other -1 takes the --shape value or 1.
 */
export function resolveShapes(
  model: string,
  inputs: readonly TensorMetadata[],
  maxBatchSize: number,
  batchSize: number,
  overrides: ShapeOverrides,
): number[][] {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  if (maxBatchSize === 0 && batchSize > 1)
    throw new RangeError(`model "${model}" does not support batching (max_batch_size 0); batch size ${batchSize} cannot be used`);
  if (maxBatchSize > 0 && batchSize > maxBatchSize)
    throw new RangeError(`batch size ${batchSize} is larger than model "${model}"'s max_batch_size ${maxBatchSize}`);
  for (const name of overrides.keys())
    if (!inputs.some((i) => i.name === name))
      throw new RangeError(`--shape names input "${name}", model "${model}" has inputs ${inputs.map((i) => i.name).join(", ")}`);

  return inputs.map((input) => {
    const dims = maxBatchSize > 0 ? input.shape.slice(1) : input.shape.slice();
    const override = overrides.get(input.name);
    if (override) {
      if (override.length !== dims.length)
        throw new RangeError(
          `--shape ${input.name}: has ${override.length} dimensions, input has ${dims.length} ([${dims.join(",")}]` +
            `${maxBatchSize > 0 ? ", batch dimension excluded" : ""})`,
        );
      dims.forEach((d, k) => {
        if (d !== -1 && d !== override[k])
          throw new RangeError(`--shape ${input.name}: dimension ${k} is fixed at ${d} by the model, got ${override[k]}`);
      });
    }
    const shape = dims.map((d, k) => (d === -1 ? (override?.[k] ?? 1) : d));
    return maxBatchSize > 0 ? [batchSize, ...shape] : shape;
  });
}
