// The Prometheus metrics endpoint (GET /metrics on its own port, as Triton's --metrics-port): per-model
// inference counters from the statistics, CPU and (when present) GPU metrics, rendered at scrape time.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { InferenceServer } from "../core/inference-server.ts";
import type { LogFn } from "../core/log-settings.ts";
import type { NativeAddon } from "../native/types.ts";
import { CpuSampler } from "./cpu-metrics.ts";
import { GpuSampler } from "./gpu-metrics.ts";
import { inferenceFamilies } from "./inference-metrics.ts";
import { CONTENT_TYPE, renderFamilies } from "./prometheus-text.ts";
import { listen } from "../core/listen.ts";

export const DEFAULT_METRICS_PORT = 8002;

/** startServer's metricsPort rule: as given, else 8002, else 0 when the HTTP port is chosen freely (0). */
export function metricsPortFor(options: { metricsPort?: number; httpPort?: number }): number {
  const port = options.metricsPort ?? (options.httpPort === 0 ? 0 : DEFAULT_METRICS_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`startServer: metricsPort must be an integer port 0..65535, got ${port}`);
  return port;
}

/** CUDA devices the addon can use now (GPU metrics are only queried when there is one). */
export function cudaDeviceCount(addon: NativeAddon): number {
  const info = addon.backendInfo();
  return info.available.includes("cuda") ? info.gpus.length : 0;
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** CUDA devices the addon sees (0: no GPU metrics). */
  gpuCount: number;
  log?: LogFn;
}

export interface MetricsServer {
  readonly port: number;
  /** The exposition text a scrape would get now. */
  render(): Promise<string>;
  close(): Promise<void>;
}

export async function startMetricsServer(server: InferenceServer, options: MetricsServerOptions): Promise<MetricsServer> {
  const log = options.log ?? (() => {});
  const cpu = new CpuSampler();
  const gpu = new GpuSampler(options.gpuCount, (m) => log(m, "warning"));
  const render = async (): Promise<string> =>
    renderFamilies([...inferenceFamilies(server.versionStats()), ...(await gpu.families()), ...cpu.families()]);

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "Content-Type": "text/plain" }).end(`no endpoint at ${path}; metrics are at GET /metrics\n`);
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain" }).end(`${req.method} is not allowed on /metrics; use GET\n`);
      return;
    }
    render().then(
      (text) => {
        res.writeHead(200, { "Content-Type": CONTENT_TYPE, "Content-Length": Buffer.byteLength(text) });
        res.end(req.method === "HEAD" ? undefined : text);
      },
      (err: unknown) => {
        log(`metrics: rendering failed: ${(err as Error).stack ?? String(err)}`, "error");
        res.writeHead(500, { "Content-Type": "text/plain" }).end(`metrics rendering failed: ${(err as Error).message}\n`);
      },
    );
  };
  const http = createServer(handle);
  const port = await listen(http, options.port, options.host);
  log(`metrics endpoint listening on ${options.host}:${port}/metrics`);
  return {
    port,
    render,
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}
