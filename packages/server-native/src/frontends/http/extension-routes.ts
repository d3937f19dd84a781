// REST endpoints of Triton's model_repository, trace and logging extensions, and the gate that makes a
// disabled extension's endpoints answer as a server without them would (404, FastAPI's body, as KServe
// and MLServer answer a route they do not have).
import type { InferenceServer } from "../../core/inference-server.ts";
import { invalidArg } from "../../core/errors.ts";
import { loadEndpoint, logSettingsEndpoint, traceSettingsEndpoint, unloadEndpoint } from "../../core/settings-endpoints.ts";
import { base64Content } from "../../repository/file-overrides.ts";

export interface RouteContext {
  /** Throws the front end's 405 error unless the request uses `method`. */
  expect(method: "GET" | "POST"): void;
  method: string;
  /** Reads the body as a JSON object ({} when empty). */
  readJson(what: string): Promise<Record<string, unknown>>;
}

export interface RouteAnswer {
  status: number;
  /** null: empty body. */
  body: unknown;
}

/** What a server without the endpoint answers (FastAPI's default 404, as KServe python and MLServer). */
export const NOT_SERVED: RouteAnswer = { status: 404, body: { detail: "Not Found" } };

/** The extension that serves a REST path (segments after splitting on "/"), if it belongs to one. */
export function extensionOfPath(segments: readonly string[]): string | undefined {
  const [v2, a, b] = segments;
  if (v2 !== "v2") return undefined;
  if (a === "repository") return "model_repository";
  if (a === "logging") return "logging";
  if (a === "trace") return "trace";
  if (a !== "models" || b === undefined) return undefined;
  if (b === "stats" && segments.length === 3) return "statistics";
  const rest = segments[3] === "versions" ? segments.slice(5) : segments.slice(3);
  if (rest.length === 1 && rest[0] === "stats") return "statistics";
  if (rest.length === 1 && rest[0] === "config") return "model_configuration";
  if (rest.length === 2 && rest[0] === "trace" && rest[1] === "setting") return "trace";
  return undefined;
}

function objectParam(body: Record<string, unknown>, what: string): Record<string, unknown> {
  const params = body.parameters ?? {};
  if (typeof params !== "object" || params === null || Array.isArray(params)) throw invalidArg(`${what} 'parameters' must be an object`);
  return params as Record<string, unknown>;
}

/**
 * Serves the repository, trace and logging endpoints. Returns undefined for any other path (including
 * unknown sub-paths of these), so the caller's 404 applies.
 */
export async function extensionRoute(server: InferenceServer, segments: readonly string[], ctx: RouteContext): Promise<RouteAnswer | undefined> {
  const extension = extensionOfPath(segments);
  if (extension === undefined) return undefined;
  if (!server.extensions.has(extension)) return NOT_SERVED;
  const [, a, b, c, d, e] = segments;

  if (a === "repository") {
    if (b === "index" && segments.length === 3) {
      ctx.expect("POST");
      const body = await ctx.readJson("repository index");
      if (body.ready !== undefined && typeof body.ready !== "boolean") throw invalidArg("repository index 'ready' must be a boolean");
      return { status: 200, body: await server.repositoryIndex(body.ready === true) };
    }
    if (b === "models" && c !== undefined && (d === "load" || d === "unload") && segments.length === 5) {
      ctx.expect("POST");
      const params = objectParam(await ctx.readJson(`model ${d}`), d);
      if (d === "unload") await unloadEndpoint(server, c, params);
      else
        await loadEndpoint(server, c, params, base64Content, (v) => {
          if (typeof v !== "string") throw invalidArg("load parameter 'config' must be a string holding ModelConfig JSON");
          return v;
        });
      return { status: 200, body: null };
    }
    return undefined;
  }

  if (a === "logging" && segments.length === 2) {
    if (ctx.method === "GET") return { status: 200, body: logSettingsEndpoint(server, undefined) };
    ctx.expect("POST");
    return { status: 200, body: logSettingsEndpoint(server, await ctx.readJson("log settings")) };
  }

  const model = a === "models" ? b : undefined;
  const isTrace = a === "trace" ? b === "setting" && segments.length === 3 : c === "trace" && d === "setting" && e === undefined;
  if (isTrace) {
    if (ctx.method === "GET") return { status: 200, body: await traceSettingsEndpoint(server, model, undefined) };
    ctx.expect("POST");
    return { status: 200, body: await traceSettingsEndpoint(server, model, await ctx.readJson("trace settings")) };
  }
  return undefined;
}
