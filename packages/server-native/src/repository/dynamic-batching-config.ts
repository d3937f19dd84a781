// Load-time checks of `dynamic_batching`, as Triton validates it: preferred sizes within 1..max_batch_size,
// priority levels consistent with the default level and the per-level policies. Errors name FILE:LINE.
import { configError, type Decoded, type Locator } from "./config-decode.ts";
import type { DynamicBatchingConfig } from "./model-config.ts";

export function dynamicBatchingConfig(raw: Decoded, at: Locator, maxBatchSize: number): DynamicBatchingConfig {
  const db = raw as DynamicBatchingConfig;
  const where = (path: string) => at.at(`dynamic_batching${path}`);
  (db.preferred_batch_size ?? []).forEach((size, i) => {
    if (size < 1 || (maxBatchSize > 0 && size > maxBatchSize))
      throw configError(where(`.preferred_batch_size[${i}]`), `preferred batch size ${size} must be in 1..max_batch_size (${maxBatchSize})`);
    if (maxBatchSize === 0) throw configError(where(".preferred_batch_size"), "preferred_batch_size needs max_batch_size > 0 (the model does not batch)");
  });
  const levels = db.priority_levels ?? 0;
  const def = db.default_priority_level ?? 0;
  if (levels > 0 && (def < 1 || def > levels))
    throw configError(where(".default_priority_level"), `default_priority_level must be in 1..priority_levels (${levels}), got ${def}`);
  if (levels === 0 && def !== 0) throw configError(where(".default_priority_level"), "default_priority_level needs priority_levels > 0");
  for (const key of Object.keys(db.priority_queue_policy ?? {})) {
    const level = Number(key);
    if (!(level >= 1 && level <= levels))
      throw configError(where(`.priority_queue_policy[${key}]`), `priority_queue_policy level ${key} is not in 1..priority_levels (${levels})`);
  }
  return db;
}
