// Statistics of several servers as one fleet: the entries of the same model and version are added up.
// The merge walks the values generically (bigint counters summed, objects by key, batch statistics by
// batch size, other lists concatenated), so fields added to ModelStatistics later merge too.
import type { ModelStatistics } from "../api.ts";

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

function mergeLists(a: unknown[], b: unknown[]): unknown[] {
  const keyed = (x: unknown): x is { batch_size: bigint } => isPlainObject(x) && typeof x.batch_size === "bigint";
  if (!a.every(keyed) || !b.every(keyed)) return [...a, ...b];
  const out = a.map((x) => ({ ...x }) as Record<string, unknown>);
  for (const y of b) {
    const i = out.findIndex((x) => x.batch_size === y.batch_size);
    if (i < 0) out.push({ ...y });
    else out[i] = mergeValue(out[i], y, "") as Record<string, unknown>;
  }
  return out;
}

function mergeValue(a: unknown, b: unknown, key: string): unknown {
  if (typeof a === "bigint" && typeof b === "bigint") {
    // A timestamp (ms since the epoch), not a counter: the fleet's last inference is the latest one.
    if (key === "last_inference") return a > b ? a : b;
    // batch_size identifies a batch_stats entry: equal on both sides by construction.
    if (key === "batch_size") return a;
    return a + b;
  }
  if (typeof a === "number" && typeof b === "number") return key === "last_inference" ? Math.max(a, b) : a + b;
  if (Array.isArray(a) && Array.isArray(b)) return mergeLists(a, b);
  if (isPlainObject(a) && isPlainObject(b)) {
    const out: Record<string, unknown> = { ...a };
    for (const k of Object.keys(b)) out[k] = k in a ? mergeValue(a[k], b[k], k) : b[k];
    return out;
  }
  return a === undefined ? b : a;
}

/** Sums per-endpoint statistics: one entry per model name and version, in first-seen order. */
export function mergeStatistics(perEndpoint: readonly ModelStatistics[][]): ModelStatistics[] {
  const merged = new Map<string, ModelStatistics>();
  for (const list of perEndpoint)
    for (const s of list) {
      const key = `${s.name}\u0000${s.version}`;
      const seen = merged.get(key);
      merged.set(key, seen ? (mergeValue(seen, s, "") as ModelStatistics) : s);
    }
  return [...merged.values()];
}
