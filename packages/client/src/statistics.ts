// Model statistics from either transport (JSON numbers/bigints over HTTP, decimal strings over gRPC)
// normalised to api.ts's ModelStatistics with exact bigint counters.
import type { InferBatchStatistics, InferStatistics, ModelStatistics, StatisticDuration } from "./api.ts";
import { InferenceError } from "./errors.ts";
import type { InferResponseStatistics, MemoryUsage } from "./extension-types.ts";

type Wire = Record<string, unknown> | undefined;

function big(v: unknown, where: string): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === "bigint") return v;
  if ((typeof v === "number" && Number.isInteger(v)) || (typeof v === "string" && /^\d+$/.test(v))) return BigInt(v);
  throw new InferenceError("internal", `statistics: ${where} is ${JSON.stringify(v)}, expected an unsigned integer`);
}

function obj(v: unknown): Wire {
  return v !== null && typeof v === "object" ? (v as Record<string, unknown>) : undefined;
}

function duration(v: unknown, where: string): StatisticDuration {
  const o = obj(v);
  return { count: big(o?.count, `${where}.count`), ns: big(o?.ns, `${where}.ns`) };
}

const INFER_KEYS = [
  "success",
  "fail",
  "queue",
  "compute_input",
  "compute_infer",
  "compute_output",
  "cache_hit",
  "cache_miss",
] as const;

function inferStats(v: unknown, where: string): InferStatistics {
  const o = obj(v);
  const out = {} as Record<(typeof INFER_KEYS)[number], StatisticDuration>;
  for (const k of INFER_KEYS) out[k] = duration(o?.[k], `${where}.${k}`);
  return out;
}

function batchStats(v: unknown, where: string): InferBatchStatistics {
  const o = obj(v);
  return {
    batch_size: big(o?.batch_size, `${where}.batch_size`),
    compute_input: duration(o?.compute_input, `${where}.compute_input`),
    compute_infer: duration(o?.compute_infer, `${where}.compute_infer`),
    compute_output: duration(o?.compute_output, `${where}.compute_output`),
  };
}

const RESPONSE_KEYS = ["compute_infer", "compute_output", "success", "fail", "empty_response", "cancel"] as const;

function responseStats(v: unknown, where: string): Record<string, InferResponseStatistics> {
  const out: Record<string, InferResponseStatistics> = {};
  const o = obj(v);
  if (o === undefined) return out;
  for (const [key, r] of Object.entries(o)) {
    const entry = {} as Record<(typeof RESPONSE_KEYS)[number], StatisticDuration>;
    for (const k of RESPONSE_KEYS) entry[k] = duration(obj(r)?.[k], `${where}["${key}"].${k}`);
    out[key] = entry;
  }
  return out;
}

/** int64 (memory_usage id): may be negative. */
function signed(v: unknown, where: string): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === "bigint") return v;
  if ((typeof v === "number" && Number.isInteger(v)) || (typeof v === "string" && /^-?\d+$/.test(v))) return BigInt(v);
  throw new InferenceError("internal", `statistics: ${where} is ${JSON.stringify(v)}, expected an integer`);
}

function memoryUsage(v: unknown, where: string): MemoryUsage[] {
  if (!Array.isArray(v)) return [];
  return v.map((m: unknown, i) => {
    const o = obj(m);
    return { type: String(o?.type ?? ""), id: signed(o?.id, `${where}[${i}].id`), byte_size: big(o?.byte_size, `${where}[${i}].byte_size`) };
  });
}

/** Converts a `model_stats` list as received on the wire. */
export function toModelStatistics(modelStats: unknown): ModelStatistics[] {
  if (modelStats === undefined) return [];
  if (!Array.isArray(modelStats)) throw new InferenceError("internal", "statistics: model_stats is not a list");
  return modelStats.map((m: unknown, i) => {
    const o = obj(m) ?? {};
    const where = `model_stats[${i}]`;
    const batches = Array.isArray(o.batch_stats) ? o.batch_stats : [];
    return {
      name: String(o.name ?? ""),
      version: String(o.version ?? ""),
      last_inference: big(o.last_inference, `${where}.last_inference`),
      inference_count: big(o.inference_count, `${where}.inference_count`),
      execution_count: big(o.execution_count, `${where}.execution_count`),
      inference_stats: inferStats(o.inference_stats, `${where}.inference_stats`),
      batch_stats: batches.map((b: unknown, j) => batchStats(b, `${where}.batch_stats[${j}]`)),
      memory_usage: memoryUsage(o.memory_usage, `${where}.memory_usage`),
      response_stats: responseStats(o.response_stats, `${where}.response_stats`),
    };
  });
}
