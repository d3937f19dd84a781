// The reference server as a child process (`iaas serve` with ports 0), so that its event loop does not
// compete with the load generator's. The child reports its ports as one JSON line on stdout.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { extname } from "node:path";

/** The line `iaas serve` prints once both front ends listen. */
export interface ListeningEvent {
  event: "listening";
  httpUrl: string;
  grpcUrl: string;
  httpPort: number;
  grpcPort: number;
  pid: number;
  modelRepository: string;
  /** Compute backends the server can use, e.g. ["cpu"] or ["cpu", "cuda"], when it reports them. */
  backends?: string[];
  /** The Prometheus metrics port and URL, when the server serves metrics. */
  metricsPort?: number;
  metricsUrl?: string;
}

export interface EmbeddedServer extends ListeningEvent {
  /** Stops the child (SIGTERM, then SIGKILL after `graceMs`) and waits for it to exit. */
  stop(graceMs?: number): Promise<void>;
}

export interface EmbeddedServerOptions {
  modelRepository?: string;
  host?: string;
  /** Start it with --allow-shared-memory (the system_shared_memory extension). Default false. */
  allowSharedMemory?: boolean;
  /** Give up when the child has not reported listening by then. Default 30000. */
  startTimeoutMs?: number;
}

/** The `iaas` entry point next to this module: dist/bin/iaas.js when built, src/bin/iaas.ts under type stripping. */
export function cliEntryPoint(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./bin/iaas${extname(self)}`, import.meta.url));
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

// Last resort: a parent that exits without stopping its server (an uncaught error) still takes it down.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
}

export function startEmbeddedServer(options: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  const args = [cliEntryPoint(), "serve", "--http-port", "0", "--grpc-port", "0", "--exit-on-stdin-close"];
  if (options.host !== undefined) args.push("--host", options.host);
  if (options.modelRepository !== undefined) args.push("--model-repository", options.modelRepository);
  if (options.allowSharedMemory) args.push("--allow-shared-memory");
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"] });
  live.add(child);
  installExitHook();

  let stderrTail = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      live.delete(child);
      resolve();
    });
  });

  const stop = async (graceMs = 5000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };

  return new Promise<EmbeddedServer>((resolve, reject) => {
    let stdoutBuf = "";
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stop(1000).then(() => {
        const detail = stderrTail.trim();
        reject(new Error(detail ? `${message}\n${detail}` : message));
      });
    };
    const timeoutMs = options.startTimeoutMs ?? 30_000;
    const timer = setTimeout(() => fail(`embedded server did not start listening within ${timeoutMs} ms`), timeoutMs);
    child.once("error", (err) => fail(`cannot start the embedded server: ${err.message}`));
    child.once("exit", (code, signal) => fail(`embedded server exited before listening (${signal ?? `exit code ${code}`})`));
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      if (settled) return; // later output is drained and ignored so the pipe never fills
      stdoutBuf += chunk;
      let nl: number;
      while ((nl = stdoutBuf.indexOf("\n")) >= 0) {
        const line = stdoutBuf.slice(0, nl).trim();
        stdoutBuf = stdoutBuf.slice(nl + 1);
        let event: unknown;
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        if (event !== null && typeof event === "object" && (event as { event?: unknown }).event === "listening") {
          settled = true;
          clearTimeout(timer);
          resolve({ ...(event as ListeningEvent), pid: child.pid!, stop });
          return;
        }
      }
    });
  });
}
