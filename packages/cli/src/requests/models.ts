// `-m a:3 -m b:1`: several models loaded at once, the load split by weight.

export interface WeightedModel {
  name: string;
  /** Relative share of the load (> 0). */
  weight: number;
}

/**
 * "name" (weight 1) or "name:weight". Model names may contain ":" only when a weight follows (the last
 * ":" separates a weight only when what follows is a number).
 */
export function parseModelWeight(text: string): WeightedModel {
  const colon = text.lastIndexOf(":");
  const tail = colon > 0 ? text.slice(colon + 1).trim() : "";
  if (colon > 0 && /^(\d+(\.\d*)?|\.\d+)$/.test(tail)) {
    const weight = Number(tail);
    if (!(weight > 0)) throw new RangeError(`model "${text}": the weight must be > 0`);
    return { name: text.slice(0, colon).trim(), weight };
  }
  if (text.trim() === "") throw new RangeError("empty model name");
  return { name: text.trim(), weight: 1 };
}

/** Normalises a models list; a model named twice is an error. */
export function parseModelWeights(models: readonly (string | WeightedModel)[]): WeightedModel[] {
  const out = models.map((m) => (typeof m === "string" ? parseModelWeight(m) : m));
  const seen = new Set<string>();
  for (const m of out) {
    if (!(m.weight > 0) || !Number.isFinite(m.weight)) throw new RangeError(`model "${m.name}": the weight must be a number > 0, got ${m.weight}`);
    if (seen.has(m.name)) throw new RangeError(`model "${m.name}" given twice`);
    seen.add(m.name);
  }
  return out;
}
