// The KServe v2 REST front end on node:http: routes each request to the InferenceServer core and
// writes the answer. Every failure becomes a `{"error": "..."}` reply; nothing a client sends can
// throw out of the handler.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { stringifyJson } from "@iaas/client/protocol";
import { ServerError, invalidArg, toServerError } from "../../core/errors.ts";
import type { InferenceServer } from "../../core/inference-server.ts";
import type { InferResponse } from "../../core/types.ts";
import type { LogFn } from "../../core/log-settings.ts";
import type { Authenticator } from "../../security/auth.ts";
import { httpsServerOptions, type ResolvedTls } from "../../security/tls.ts";
import { withHttpAuth } from "./auth-gate.ts";
import { checkBinaryRequest, jsonOutputsOnly } from "./binary-gate.ts";
import { BodyTooLargeError, readBody } from "./body.ts";
import { BodyPool } from "../request-buffers/body-pool.ts";
import { extensionOfPath, extensionRoute } from "./extension-routes.ts";
import { sendBody } from "./response-encoding.ts";
import { createSendBatch } from "./batched-sends.ts";
import { HEADER_LENGTH, checkJsonOutputs, decodeInferRequest, encodeInferResponse, type HttpInferRequest } from "./infer-codec.ts";
import { systemSharedMemoryRoute } from "./shared-memory-routes.ts";
import { trackConnections } from "./graceful-close.ts";
import { listen } from "../../core/listen.ts";

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface HttpFrontendOptions {
  host: string;
  port: number;
  maxBodyBytes?: number;
  /** Serve HTTPS (and require client certificates when `tls.mutual`). */
  tls?: ResolvedTls;
  /** Refuse requests without accepted credentials (401). */
  auth?: Authenticator;
  log?: LogFn;
}

export interface HttpFrontend {
  readonly port: number;
  /**
   * Stops accepting connections, lets requests in flight finish (their answers say Connection: close)
   * and closes connections as they go idle; after `graceMs` (default 2000) the rest are cut.
   */
  close(graceMs?: number): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, exact = false): void {
  const text = exact ? stringifyJson(body) : JSON.stringify(body);
  sendBody(res, status, { "Content-Type": "application/json" }, [text], Buffer.byteLength(text));
}

function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { "Content-Length": 0 });
  res.end();
}

function sendError(res: ServerResponse, err: unknown, log: LogFn): void {
  const e = toServerError(err);
  if (e.status === "INTERNAL") log(`internal error: ${e.stack ?? e.message}`, "error");
  if (res.headersSent) {
    res.destroy(e);
    return;
  }
  const status = err instanceof BodyTooLargeError ? 413 : err instanceof MethodError ? 405 : e.httpStatus;
  sendJson(res, status, { error: e.message });
}

class MethodError extends ServerError {
  readonly allow: string;
  constructor(method: string, path: string, allow: string) {
    super("INVALID_ARG", `${method} is not allowed on ${path}; use ${allow}`);
    this.allow = allow;
  }
}

const parseBodyJson = (body: Buffer, what: string): Record<string, unknown> => {
  if (body.byteLength === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw invalidArg(`failed to parse the ${what} request body as JSON: ${(err as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalidArg(`the ${what} request body must be a JSON object`);
  return v as Record<string, unknown>;
};

const INFER_PREFIX = "/v2/models/";
const INFER_SUFFIX = "/infer";

/** The model of `POST /v2/models/<name>/infer` when the URL is exactly that with a name needing no decoding. */
function plainInferModel(url: string): string | undefined {
  if (!url.startsWith(INFER_PREFIX) || !url.endsWith(INFER_SUFFIX)) return undefined;
  const name = url.slice(INFER_PREFIX.length, url.length - INFER_SUFFIX.length);
  if (name === "" || name.includes("/") || name.includes("%") || name.includes("?")) return undefined;
  return name;
}

export async function startHttpFrontend(server: InferenceServer, options: HttpFrontendOptions): Promise<HttpFrontend> {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = options.log ?? (() => {});
  // Set by close(): answers from then on end their connection, so keep-alive clients do not hold shutdown.
  let closing = false;
  const sendLater = createSendBatch();
  // Infer bodies of 16 KiB..4 MiB are read into reused buffers, given back once the inference settled
  // (body-pool.ts says why).
  const bodies = new BodyPool();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = process.hrtime.bigint();
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    // The hot path: POST /v2/models/<name>/infer with a plain name (no query, no escapes, no version) goes
    // straight to inference; anything else takes the general router below, which would route it the same.
    const model = method === "POST" ? plainInferModel(url) : undefined;
    if (model !== undefined) return infer(req, res, model, undefined, receivedAt);
    const rawPath = url.split("?")[0]!;
    let segments: string[];
    try {
      segments = rawPath.split("/").filter((s) => s !== "").map(decodeURIComponent);
    } catch {
      throw invalidArg(`malformed percent-encoding in path '${rawPath}'`);
    }
    const expect = (allowed: "GET" | "POST"): void => {
      if (method !== allowed) throw new MethodError(method, rawPath, allowed);
    };
    if (segments[0] !== "v2") throw new ServerError("NOT_FOUND", `no endpoint at ${rawPath}; KServe v2 endpoints start with /v2`);
    const [, a, b, c, d] = segments;

    if (segments.length === 1) {
      expect("GET");
      return sendJson(res, 200, server.serverMetadata());
    }
    if (a === "health" && segments.length === 3 && (b === "live" || b === "ready")) {
      expect("GET");
      const ok = b === "live" ? server.isLive() : server.isReady();
      return sendJson(res, ok ? 200 : 400, { [b]: ok });
    }
    // Repository, trace and logging endpoints, and the 404 of any disabled extension's endpoint.
    // (Guarded so inference requests skip the async call.)
    if (extensionOfPath(segments) !== undefined) {
      const ext = await extensionRoute(server, segments, { expect, method, readJson: async (what) => parseBodyJson(await readBody(req, limit), what) });
      if (ext) return ext.body === null ? sendEmpty(res, ext.status) : sendJson(res, ext.status, ext.body);
    }
    if (a === "systemsharedmemory") {
      const readJson = async (what: string) => parseBodyJson(await readBody(req, limit), what);
      const answer = await systemSharedMemoryRoute(server, segments.slice(1), { expect, readJson });
      if (answer) return answer.body === null ? sendEmpty(res, 200) : sendJson(res, 200, answer.body);
    }
    if (a === "models") {
      if (b === "stats" && segments.length === 3) {
        expect("GET");
        return sendJson(res, 200, { model_stats: server.statistics() }, true);
      }
      if (b !== undefined) {
        let version: string | undefined;
        let rest = segments.slice(3);
        if (c === "versions") {
          if (d === undefined) throw new ServerError("NOT_FOUND", `no endpoint at ${rawPath}; a version number must follow 'versions'`);
          version = d;
          rest = segments.slice(5);
        }
        const action = rest[0];
        if (rest.length === 0) {
          expect("GET");
          return sendJson(res, 200, server.modelMetadata(b, version));
        }
        if (rest.length === 1 && action === "ready") {
          expect("GET");
          const ready = server.modelReady(b, version);
          return sendJson(res, ready ? 200 : 400, { name: b, ready });
        }
        if (rest.length === 1 && action === "config") {
          expect("GET");
          return sendJson(res, 200, server.modelConfig(b, version));
        }
        if (rest.length === 1 && action === "stats") {
          expect("GET");
          return sendJson(res, 200, { model_stats: server.statistics(b, version) }, true);
        }
        if (rest.length === 1 && action === "infer") {
          expect("POST");
          return infer(req, res, b, version, receivedAt);
        }
      }
    }
    throw new ServerError("NOT_FOUND", `no endpoint at ${method} ${rawPath}`);
  }

  async function infer(req: IncomingMessage, res: ServerResponse, model: string, version: string | undefined, receivedAt: bigint): Promise<void> {
    // Resolve the model first so an unknown model is a 404 even before the body is read.
    const meta = server.modelMetadata(model, version);
    const body = await readBody(req, limit, bodies);
    let request: HttpInferRequest;
    let response: InferResponse;
    try {
      const headerLength = req.headers[HEADER_LENGTH];
      const headerValue = Array.isArray(headerLength) ? headerLength[0] : headerLength;
      checkBinaryRequest(server, headerValue);
      request = decodeInferRequest(server, model, version, body, headerValue);
      request.traceCarrier = req.headers;
      request.protocol = "http";
      jsonOutputsOnly(server, request);
      checkJsonOutputs(meta, request);
      response = await server.infer(request, receivedAt);
    } finally {
      // The inference has settled (its native execution is over) and the answer is built from output
      // buffers only: nothing reads the body's bytes from here on.
      bodies.give(body);
    }
    const encoded = encodeInferResponse(response, request);
    const headers: Record<string, string | number> = { "Content-Type": encoded.contentType };
    if (encoded.headerLength !== undefined) headers["Inference-Header-Content-Length"] = encoded.headerLength;
    sendLater(res, () => {
      if (closing) res.shouldKeepAlive = false;
      sendBody(res, 200, headers, encoded.chunks, encoded.byteLength);
    });
  }

  const route = (req: IncomingMessage, res: ServerResponse): void => {
    connections.served(req);
    if (closing) res.shouldKeepAlive = false;
    handle(req, res).catch((err: unknown) => {
      if (err instanceof MethodError) res.setHeader("Allow", err.allow);
      sendError(res, err, log);
    });
  };
  const listener = options.auth ? withHttpAuth(options.auth, route, log) : route;
  const http: Server = options.tls ? createHttpsServer(httpsServerOptions(options.tls), listener) : createServer(listener);
  http.keepAliveTimeout = 65_000;
  const connections = trackConnections(http, options.tls !== undefined);

  const port = await listen(http, options.port, options.host);
  log(`HTTP front end listening on ${options.host}:${port}`);

  return {
    port,
    close: (graceMs = 2000) =>
      new Promise<void>((resolve) => {
        // close() stops accepting and ends idle keep-alive connections; requests in flight finish.
        // Connections that go idle later are closed as they do (a response already being written may
        // not carry Connection: close). Slow or stuck clients must not hold shutdown forever.
        closing = true;
        const idle = setInterval(() => connections.closeUnused(), 20);
        const force = setTimeout(() => http.closeAllConnections(), graceMs);
        force.unref();
        http.close(() => {
          clearInterval(idle);
          clearTimeout(force);
          resolve();
        });
        connections.closeUnused();
      }),
  };
}
