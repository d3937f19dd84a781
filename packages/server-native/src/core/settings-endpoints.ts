// The protocol-independent halves of the trace, logging and repository load/unload endpoints, shared by
// the HTTP and gRPC front ends: each front end only translates its wire format to and from these.
import { ServerError, invalidArg } from "./errors.ts";
import type { InferenceServer } from "./inference-server.ts";
import type { LogSettingValues } from "./log-settings.ts";
import type { TraceSettingsWire } from "./trace-settings.ts";
import { FILE_PARAMETER_PREFIX, overridePath, type FileOverride } from "../repository/file-overrides.ts";

/**
 * GET (no `update`) or POST of trace settings, global or for one model. A model must be known to the
 * server (loaded, or in the repository). A null value clears a setting (see TraceSettings.update).
 */
export async function traceSettingsEndpoint(
  server: InferenceServer,
  model: string | undefined,
  update: Record<string, unknown> | undefined,
): Promise<TraceSettingsWire> {
  if (model !== undefined && model !== "") {
    const known = (await server.repositoryIndex()).some((m) => m.name === model);
    if (!known) throw new ServerError("NOT_FOUND", `trace settings: unknown model '${model}'`);
  }
  const m = model || undefined;
  if (update === undefined || Object.keys(update).length === 0) return server.trace.get(m);
  const settings = server.trace.update(update, m);
  // Tracing changes what requests cost: worth a line in the log.
  const changed = Object.keys(update).map((k) => `${k}=${JSON.stringify((settings as Record<string, unknown>)[k] ?? null)}`);
  server.logger.log(`trace settings changed${m ? ` for model '${m}'` : ""}: ${changed.join(", ")}`);
  return settings;
}

/** GET (no `update`) or POST of the log settings. */
export function logSettingsEndpoint(server: InferenceServer, update: Record<string, unknown> | undefined): LogSettingValues {
  if (update === undefined || Object.keys(update).length === 0) return server.logger.settings();
  const settings = server.logger.update(update);
  server.logger.log(`log settings changed: ${Object.keys(update).join(", ")}`, 1);
  return settings;
}

/**
 * Loads a model with Triton's load parameters: "config" (ModelConfig JSON text) and "file:<path>" (file
 * contents: base64 text over HTTP, bytes over gRPC, decoded by `fileContent`).
 */
export async function loadEndpoint(
  server: InferenceServer,
  model: string,
  params: Record<string, unknown>,
  fileContent: (key: string, value: unknown) => Buffer,
  configText: (value: unknown) => string | undefined,
): Promise<void> {
  server.modelControl?.checkApi("load", model);
  let config: string | undefined;
  const files: FileOverride[] = [];
  for (const [key, value] of Object.entries(params)) {
    if (key === "config") config = configText(value);
    else if (key.startsWith(FILE_PARAMETER_PREFIX)) files.push({ path: overridePath(key), content: fileContent(key, value) });
    else throw invalidArg(`unknown load parameter '${key}'; load takes 'config' (ModelConfig JSON) and 'file:<path>' (file contents)`);
  }
  await server.loadModel(model, config, files);
}

/** Unloads a model with Triton's unload parameters ("unload_dependents", a boolean). */
export async function unloadEndpoint(server: InferenceServer, model: string, params: Record<string, unknown>): Promise<void> {
  server.modelControl?.checkApi("unload", model);
  let unloadDependents = false;
  for (const [key, value] of Object.entries(params)) {
    if (key !== "unload_dependents") throw invalidArg(`unknown unload parameter '${key}'; unload takes 'unload_dependents' (boolean)`);
    if (typeof value !== "boolean") throw invalidArg(`unload parameter 'unload_dependents' must be a boolean, got ${JSON.stringify(value)}`);
    unloadDependents = value;
  }
  await server.unloadModel(model, { unloadDependents });
}
