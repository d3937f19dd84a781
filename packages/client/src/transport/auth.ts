// Client authentication: bearer and basic credentials become one constant Authorization header (merged
// into the client's headers once, no per-request cost); a hook runs per request on either transport.
import type { AuthHook, AuthRequestContext, ClientAuth } from "../connection-options.ts";
import { InferenceError } from "../errors.ts";

export interface ResolvedAuth {
  /** Constant headers for every request. */
  headers?: Record<string, string>;
  /** Per-request headers. */
  hook?: AuthHook;
}

export function resolveAuth(auth: ClientAuth | undefined): ResolvedAuth {
  if (auth === undefined) return {};
  if (typeof auth === "function") return { hook: auth };
  if (auth !== null && typeof auth === "object") {
    if ("bearer" in auth) {
      if (typeof auth.bearer !== "string" || auth.bearer === "" || /\s/.test(auth.bearer))
        throw new InferenceError("invalid_argument", "createClient: auth.bearer must be a non-empty token without whitespace");
      return { headers: { authorization: `Bearer ${auth.bearer}` } };
    }
    if ("basic" in auth) {
      const { username, password } = auth.basic ?? ({} as { username?: unknown; password?: unknown });
      if (typeof username !== "string" || typeof password !== "string")
        throw new InferenceError("invalid_argument", "createClient: auth.basic needs string username and password");
      if (username.includes(":"))
        throw new InferenceError("invalid_argument", "createClient: auth.basic.username cannot contain ':' (RFC 7617)");
      return { headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}` } };
    }
  }
  throw new InferenceError("invalid_argument", "createClient: auth must be { bearer }, { basic: { username, password } } or a function returning headers");
}

/** Runs the hook and checks what it returned (header values must be strings). */
export async function hookHeaders(hook: AuthHook, context: AuthRequestContext): Promise<Record<string, string>> {
  let headers: unknown;
  try {
    headers = await hook(context);
  } catch (err) {
    throw new InferenceError("unauthenticated", `auth hook failed for ${context.method} ${context.url}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  if (headers === undefined || headers === null) return {};
  if (typeof headers !== "object" || Array.isArray(headers))
    throw new InferenceError("invalid_argument", `auth hook must return an object of headers, got ${Array.isArray(headers) ? "an array" : typeof headers}`);
  for (const [k, v] of Object.entries(headers))
    if (typeof v !== "string") throw new InferenceError("invalid_argument", `auth hook header '${k}' must be a string, got ${typeof v}`);
  return headers as Record<string, string>;
}
