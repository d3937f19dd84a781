// REST paths of the KServe v2 protocol and Triton's extensions.
import type { ModelRef, StatisticsRequest } from "../transport.ts";

export function modelPath(prefix: string, ref: ModelRef): string {
  let p = `${prefix}/v2/models/${encodeURIComponent(ref.model)}`;
  if (ref.version) p += `/versions/${encodeURIComponent(ref.version)}`;
  return p;
}

export function statisticsPath(prefix: string, req: StatisticsRequest): string {
  if (!req.model) return `${prefix}/v2/models/stats`;
  return `${modelPath(prefix, { model: req.model, version: req.version })}/stats`;
}

export function repositoryPath(prefix: string, model: string, action: "load" | "unload"): string {
  return `${prefix}/v2/repository/models/${encodeURIComponent(model)}/${action}`;
}

export function repositoryIndexPath(prefix: string): string {
  return `${prefix}/v2/repository/index`;
}

/** v2/trace/setting, or v2/models/{m}/trace/setting for one model. */
export function traceSettingsPath(prefix: string, model: string | undefined): string {
  return model ? `${prefix}/v2/models/${encodeURIComponent(model)}/trace/setting` : `${prefix}/v2/trace/setting`;
}

export function loggingPath(prefix: string): string {
  return `${prefix}/v2/logging`;
}
