// KServe v2 over HTTP/1.1 with undici's Pool: keep-alive connections, no fetch on the hot path.
import { Pool, type Dispatcher } from "undici";
import type { CallOptions, ModelMetadata, ModelStatistics, ServerMetadata, TensorMetadata } from "../../api.ts";
import { InferenceError, httpError } from "../../errors.ts";
import { parseJson } from "../../protocol/json-data.ts";
import { toModelStatistics } from "../../statistics.ts";
import { openCallScope } from "../call-scope.ts";
import type { InferRequest, InferResponse, LoadRequest, ModelRef, StatisticsRequest, Transport } from "../transport.ts";
import { readBody } from "./body.ts";
import { HEADER_LENGTH, decodeInferResponse, encodeInferRequest } from "./infer-codec.ts";
import { modelPath, repositoryPath, statisticsPath } from "./paths.ts";

export interface HttpTransportOptions {
  /** http(s)://host:port, optionally with a path prefix. */
  url: string;
  /** Connections kept open to the server (default 64). */
  connections?: number;
  /** Idle keep-alive time of a connection in ms (default 60000). */
  keepAliveTimeoutMs?: number;
}

// Above this size the request body goes out as separate chunks instead of one concatenation.
const CONCAT_LIMIT = 64 * 1024;

interface Answer {
  status: number;
  headers: Dispatcher.ResponseData["headers"];
  body: Buffer;
}

type Method = "GET" | "POST";

function jsonBody(answer: Answer): unknown {
  const text = answer.body.toString("utf8");
  if (text.trim() === "") return {};
  try {
    return parseJson(text);
  } catch (e) {
    throw new InferenceError("internal", `server answered HTTP ${answer.status} with a body that is not JSON: ${(e as Error).message}`, {
      httpStatus: answer.status,
    });
  }
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new InferenceError("internal", `${what}: expected a JSON object from the server`);
  return v as Record<string, unknown>;
}

function tensorMetadata(list: unknown): TensorMetadata[] {
  if (!Array.isArray(list)) return [];
  return list.map((t: Record<string, unknown>) => ({
    name: String(t.name ?? ""),
    datatype: String(t.datatype ?? ""),
    shape: Array.isArray(t.shape) ? t.shape.map((d: unknown) => Number(d)) : [],
  }));
}

export class HttpTransport implements Transport {
  readonly protocol = "http" as const;
  readonly url: string;
  readonly #pool: Pool;
  readonly #prefix: string;

  constructor(options: HttpTransportOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new InferenceError("invalid_argument", `not an HTTP URL: ${JSON.stringify(options.url)}`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
      throw new InferenceError("invalid_argument", `HTTP transport needs an http:// or https:// URL, got ${options.url}`);
    const connections = options.connections ?? 64;
    if (!Number.isSafeInteger(connections) || connections < 1)
      throw new InferenceError("invalid_argument", `connections must be a positive integer, got ${connections}`);
    this.#prefix = parsed.pathname.replace(/\/+$/, "");
    this.url = parsed.origin + this.#prefix;
    this.#pool = new Pool(parsed.origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 60_000,
    });
  }

  async #request(
    method: Method,
    path: string,
    call: CallOptions,
    what: string,
    body?: string | Buffer | Uint8Array[],
    headers?: Record<string, string>,
  ): Promise<Answer> {
    const scope = openCallScope(call, what);
    try {
      const allHeaders = call.headers ? { ...call.headers, ...headers } : headers;
      const res = await this.#pool.request({
        method,
        path,
        headers: allHeaders ?? null,
        // undici sends any iterable of chunks (its typings list only single buffers and streams).
        body: (body ?? null) as string | Buffer | null,
        signal: scope.signal ?? null,
      });
      const len = res.headers[HEADER_LENGTH];
      const alignAt = typeof len === "string" ? Number(len) : undefined;
      const data = await readBody(res.body, alignAt !== undefined && Number.isSafeInteger(alignAt) ? alignAt : undefined);
      return { status: res.statusCode, headers: res.headers, body: data };
    } catch (e) {
      throw scope.fail(e);
    } finally {
      scope.dispose();
    }
  }

  async #json(method: Method, path: string, call: CallOptions, what: string, body?: string): Promise<unknown> {
    const answer = await this.#request(
      method,
      path,
      call,
      what,
      body,
      body === undefined ? undefined : { "content-type": "application/json" },
    );
    if (answer.status >= 400) throw httpError(answer.status, answer.body.toString("utf8"));
    return jsonBody(answer);
  }

  async #health(path: string, call: CallOptions, what: string, field: string): Promise<boolean> {
    const answer = await this.#request("GET", path, call, what);
    if (answer.status !== 200) return false;
    // Decided by the status code (Triton sends no body); an explicit `false` in a JSON body still counts.
    const text = answer.body.toString("utf8").trim();
    if (text.startsWith("{")) {
      try {
        return (JSON.parse(text) as Record<string, unknown>)[field] !== false;
      } catch {
        return true;
      }
    }
    return true;
  }

  serverLive(call: CallOptions): Promise<boolean> {
    return this.#health(`${this.#prefix}/v2/health/live`, call, "isServerLive", "live");
  }

  serverReady(call: CallOptions): Promise<boolean> {
    return this.#health(`${this.#prefix}/v2/health/ready`, call, "isServerReady", "ready");
  }

  modelReady(ref: ModelRef, call: CallOptions): Promise<boolean> {
    return this.#health(`${modelPath(this.#prefix, ref)}/ready`, call, `isModelReady(${ref.model})`, "ready");
  }

  async serverMetadata(call: CallOptions): Promise<ServerMetadata> {
    const m = asObject(await this.#json("GET", `${this.#prefix}/v2`, call, "serverMetadata"), "serverMetadata");
    return {
      name: String(m.name ?? ""),
      version: String(m.version ?? ""),
      extensions: Array.isArray(m.extensions) ? m.extensions.map(String) : [],
    };
  }

  async modelMetadata(ref: ModelRef, call: CallOptions): Promise<ModelMetadata> {
    const what = `modelMetadata(${ref.model})`;
    const m = asObject(await this.#json("GET", modelPath(this.#prefix, ref), call, what), what);
    return {
      name: String(m.name ?? ""),
      versions: Array.isArray(m.versions) ? m.versions.map(String) : [],
      platform: String(m.platform ?? ""),
      inputs: tensorMetadata(m.inputs),
      outputs: tensorMetadata(m.outputs),
    };
  }

  async modelConfig(ref: ModelRef, call: CallOptions): Promise<Record<string, unknown>> {
    const what = `modelConfig(${ref.model})`;
    const c = asObject(await this.#json("GET", `${modelPath(this.#prefix, ref)}/config`, call, what), what);
    // Triton answers the ModelConfig itself; some servers wrap it as {"config": {...}} like the gRPC answer.
    return c.config !== null && typeof c.config === "object" && !("name" in c) ? (c.config as Record<string, unknown>) : c;
  }

  async modelStatistics(req: StatisticsRequest, call: CallOptions): Promise<ModelStatistics[]> {
    const what = `modelStatistics(${req.model ?? ""})`;
    const s = asObject(await this.#json("GET", statisticsPath(this.#prefix, req), call, what), what);
    return toModelStatistics(s.model_stats);
  }

  async loadModel(req: LoadRequest, call: CallOptions): Promise<void> {
    const body = req.config === undefined ? "{}" : JSON.stringify({ parameters: { config: req.config } });
    await this.#json("POST", repositoryPath(this.#prefix, req.model, "load"), call, `loadModel(${req.model})`, body);
  }

  async unloadModel(ref: ModelRef, call: CallOptions): Promise<void> {
    await this.#json("POST", repositoryPath(this.#prefix, ref.model, "unload"), call, `unloadModel(${ref.model})`, "{}");
  }

  async infer(req: InferRequest, call: CallOptions): Promise<InferResponse> {
    const encoded = encodeInferRequest(req);
    const headers: Record<string, string> = encoded.binary
      ? {
          "content-type": "application/octet-stream",
          [HEADER_LENGTH]: String(encoded.headerLength),
          "content-length": String(encoded.byteLength),
        }
      : { "content-type": "application/json" };
    const body =
      encoded.chunks.length === 1
        ? (encoded.chunks[0] as Buffer)
        : encoded.byteLength <= CONCAT_LIMIT
          ? Buffer.concat(encoded.chunks, encoded.byteLength)
          : encoded.chunks;
    const answer = await this.#request("POST", `${modelPath(this.#prefix, req)}/infer`, call, `infer(${req.model})`, body, headers);
    if (answer.status >= 400) throw httpError(answer.status, answer.body.toString("utf8"));
    const len = answer.headers[HEADER_LENGTH];
    try {
      return decodeInferResponse(answer.body, typeof len === "string" ? Number(len) : undefined);
    } catch (e) {
      throw InferenceError.from(e);
    }
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

export function createHttpTransport(options: HttpTransportOptions): Transport {
  return new HttpTransport(options);
}
