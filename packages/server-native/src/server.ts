// Starts the whole server: the core with every model of the repository loaded, and the HTTP and
// gRPC front ends on top of it.
import { fileURLToPath } from "node:url";
import { InferenceServer } from "./core/inference-server.ts";
import { startGrpcFrontend, type GrpcFrontend } from "./frontends/grpc/grpc-server.ts";
import { DEFAULT_MAX_BODY_BYTES, startHttpFrontend, type HttpFrontend } from "./frontends/http/http-server.ts";
import { loadNativeAddon } from "./native/addon.ts";

/** The models shipped with the package (simple, identity_*, dense_mlp); resolves from src/ and dist/ alike. */
export const DEFAULT_MODEL_REPOSITORY: string = fileURLToPath(new URL("../models/", import.meta.url)).replace(/[\\/]$/, "");

export interface StartServerOptions {
  /** Triton-layout model repository; every model in it is loaded at start. Default: DEFAULT_MODEL_REPOSITORY. */
  modelRepository?: string;
  /** Interface for both front ends. Default "127.0.0.1". */
  host?: string;
  /** HTTP/REST port; 0 picks a free one. Default 8000. */
  httpPort?: number;
  /** gRPC port; 0 picks a free one. Default 8001. */
  grpcPort?: number;
  /** Largest accepted HTTP request body (also after decompression). Default 64 MiB. */
  maxBodyBytes?: number;
  /** Reject start when a repository model fails to load (as Triton's exit-on-error). Default true. */
  strictModelLoad?: boolean;
  /** Receives one line per notable event (model loads, listening addresses, internal errors). Default: silent. */
  log?: (message: string) => void;
}

export interface RunningServer {
  httpPort: number;
  grpcPort: number;
  /** e.g. "http://127.0.0.1:8000" */
  httpUrl: string;
  /** e.g. "127.0.0.1:8001" */
  grpcUrl: string;
  server: InferenceServer;
  /** Stops both front ends, lets in-flight requests finish, and frees every model instance. */
  close(): Promise<void>;
}

const urlHost = (host: string): string => (host.includes(":") ? `[${host}]` : host);

export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? (() => {});
  const addon = loadNativeAddon();
  const server = new InferenceServer({ modelRepository: options.modelRepository ?? DEFAULT_MODEL_REPOSITORY, addon, log });
  let http: HttpFrontend | undefined;
  let grpc: GrpcFrontend | undefined;
  try {
    const failed = await server.loadAll();
    if (failed.length > 0 && options.strictModelLoad !== false)
      throw new Error(`model repository '${server.modelRepository}': ${failed.map((f) => f.error.message).join("; ")}`);
    http = await startHttpFrontend(server, { host, port: options.httpPort ?? 8000, maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, log });
    grpc = await startGrpcFrontend(server, { host, port: options.grpcPort ?? 8001, log });
  } catch (err) {
    await Promise.allSettled([http?.close(), grpc?.close()]);
    await server.close();
    throw err;
  }
  const [h, g] = [http, grpc];
  let closing: Promise<void> | undefined;
  return {
    httpPort: h.port,
    grpcPort: g.port,
    httpUrl: `http://${urlHost(host)}:${h.port}`,
    grpcUrl: `${urlHost(host)}:${g.port}`,
    server,
    close: () =>
      (closing ??= (async () => {
        await Promise.allSettled([h.close(), g.close()]);
        await server.close();
      })()),
  };
}
