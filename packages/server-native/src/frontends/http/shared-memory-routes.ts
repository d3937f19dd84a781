// REST endpoints of the system_shared_memory extension:
//   GET  v2/systemsharedmemory[/region/{name}]/status      -> [{name, key, offset, byte_size}]
//   POST v2/systemsharedmemory/region/{name}/register      {key, offset?, byte_size}
//   POST v2/systemsharedmemory[/region/{name}]/unregister
// With the extension disabled they answer 404 naming how to enable it.
import { ServerError } from "../../core/errors.ts";
import type { InferenceServer } from "../../core/inference-server.ts";
import { SHM_DISABLED } from "../../shared-memory/tensor-parameters.ts";

export interface SharedMemoryRouteContext {
  /** Throws the front end's 405 error unless the request used `method`. */
  expect(method: "GET" | "POST"): void;
  /** The request body as a JSON object ({} when empty). */
  readJson(what: string): Promise<Record<string, unknown>>;
}

/** What to answer with status 200: a JSON body, or `null` for an empty body. */
export interface SharedMemoryAnswer {
  body: unknown;
}

/**
 * Serves `segments` (the path after "v2", starting with "systemsharedmemory"); undefined when the path is
 * not one of the extension's, so the caller answers its usual 404.
 */
export async function systemSharedMemoryRoute(
  server: InferenceServer,
  segments: readonly string[],
  ctx: SharedMemoryRouteContext,
): Promise<SharedMemoryAnswer | undefined> {
  const [, a, name, action] = segments;
  const all = segments.length === 2 && (a === "status" || a === "unregister");
  const one = segments.length === 4 && a === "region" && name !== undefined && (action === "status" || action === "register" || action === "unregister");
  if (!all && !one) return undefined;
  const shm = server.systemSharedMemory;
  if (shm === undefined) throw new ServerError("NOT_FOUND", SHM_DISABLED);
  const verb = all ? a : action;
  if (verb === "status") {
    ctx.expect("GET");
    return { body: shm.status(all ? undefined : name) };
  }
  ctx.expect("POST");
  if (verb === "unregister") {
    shm.unregister(all ? undefined : name);
    return { body: null };
  }
  const body = await ctx.readJson("shared memory register");
  shm.register(name, body.key, body.offset, body.byte_size);
  return { body: null };
}
