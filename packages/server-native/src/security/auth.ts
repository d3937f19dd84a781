// Request authentication shared by both front ends: static bearer tokens (compared in constant time)
// and/or a caller-supplied check over the request's headers (HTTP) or metadata (gRPC).
import { createHash, timingSafeEqual } from "node:crypto";

export interface AuthRequest {
  protocol: "http" | "grpc";
  /** HTTP: "GET /v2/health/ready" (method and path); gRPC: "/inference.GRPCInferenceService/ModelInfer". */
  operation: string;
  /** Request headers (HTTP) or metadata (gRPC, text values only), lower-case names. */
  headers: Readonly<Record<string, string | undefined>>;
}

export interface ServerAuthOptions {
  /** Accepted tokens of `Authorization: Bearer <token>` (HTTP header or gRPC metadata). */
  bearerTokens?: readonly string[];
  /**
   * Custom check, consulted when no bearer token matched: resolve true to admit the request. A throw
   * or rejection answers the request with an internal error (500 / INTERNAL) and is logged.
   */
  verify?: (request: AuthRequest) => boolean | Promise<boolean>;
  /** Let health checks through without credentials (HTTP v2/health/*, gRPC ServerLive/ServerReady and grpc.health.v1). Default false. */
  allowUnauthenticatedHealth?: boolean;
}

export type AuthVerdict = { ok: true } | { ok: false; reason: string };

export interface Authenticator {
  /** Whether this operation skips authentication (health checks, when allowed). */
  exempt(operation: string): boolean;
  check(request: AuthRequest): AuthVerdict | Promise<AuthVerdict>;
}

const HEALTH_OPERATIONS = new Set([
  "GET /v2/health/live",
  "GET /v2/health/ready",
  "/inference.GRPCInferenceService/ServerLive",
  "/inference.GRPCInferenceService/ServerReady",
  "/grpc.health.v1.Health/Check",
  "/grpc.health.v1.Health/Watch",
]);

const ADMIT: AuthVerdict = { ok: true };

// Fixed-length digests let timingSafeEqual compare tokens without leaking their lengths.
const digest = (text: string): Buffer => createHash("sha256").update(text).digest();

function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization);
  return m ? m[1] : undefined;
}

export function createAuthenticator(options: ServerAuthOptions): Authenticator {
  if (options === null || typeof options !== "object") throw new TypeError("auth must be an object { bearerTokens?, verify?, allowUnauthenticatedHealth? }");
  const tokens = options.bearerTokens ?? [];
  if (!Array.isArray(tokens)) throw new TypeError("auth.bearerTokens must be an array of strings");
  tokens.forEach((t, i) => {
    if (typeof t !== "string" || t === "" || /\s/.test(t))
      throw new TypeError(`auth.bearerTokens[${i}] must be a non-empty string without whitespace`);
  });
  const verify = options.verify;
  if (verify !== undefined && typeof verify !== "function") throw new TypeError("auth.verify must be a function");
  if (tokens.length === 0 && verify === undefined)
    throw new TypeError("auth needs bearerTokens or a verify function; with neither every request would be refused");
  const digests = tokens.map(digest);
  const openHealth = options.allowUnauthenticatedHealth === true;

  const matchesToken = (token: string): boolean => {
    const d = digest(token);
    let hit = false;
    for (const known of digests) hit = timingSafeEqual(d, known) || hit; // no early exit: same time for every token
    return hit;
  };

  return {
    exempt: (operation) => openHealth && HEALTH_OPERATIONS.has(operation),
    check(request) {
      const authorization = request.headers.authorization;
      const token = bearerToken(authorization);
      if (token !== undefined && digests.length > 0 && matchesToken(token)) return ADMIT;
      const denied: AuthVerdict = {
        ok: false,
        reason:
          authorization === undefined
            ? "authentication required: send an Authorization header (e.g. 'Bearer <token>')"
            : "the credentials in the Authorization header were not accepted",
      };
      if (verify === undefined) return denied;
      return Promise.resolve(verify(request)).then((ok) => (ok === true ? ADMIT : denied));
    },
  };
}
