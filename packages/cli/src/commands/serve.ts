// `iaas serve`: the reference server in the foreground until SIGINT/SIGTERM.
import { Option, type Command } from "commander";
import { backendInfo, parseHostPolicies, startServer, DEFAULT_MODEL_REPOSITORY } from "@iaas/server-native";
import { UsageError } from "./errors.ts";
import type { ListeningEvent } from "../embedded-server.ts";
import * as parse from "./parsers.ts";
import { addServeSecurityOptions, serveSecurityOptions, type ServeSecurityFlags } from "./serve-security.ts";
import { addServeProtocolOptions, serveProtocolOptions, type ServeProtocolFlags } from "./serve-protocol.ts";
import { addServeObservabilityOptions, serveObservabilityOptions, startServeTracing, type ServeObservabilityFlags } from "./serve-observability.ts";
import { addServeLimitOptions, serveLimitOptions, type ServeLimitFlags } from "./serve-limits.ts";
import { addServeModelControlOptions, serveModelControlOptions, type ServeModelControlFlags } from "./serve-model-control.ts";

interface ServeFlags extends ServeSecurityFlags, ServeProtocolFlags, ServeObservabilityFlags, ServeLimitFlags, ServeModelControlFlags {
  modelRepository: string;
  host: string;
  httpPort: number;
  grpcPort: number;
  exitOnStdinClose?: boolean;
  allowSharedMemory?: boolean;
  hostPolicy?: string[];
}

export function registerServe(program: Command): void {
  const command = program
    .command("serve")
    .description("run the reference KServe v2 server (HTTP and gRPC) until SIGINT/SIGTERM")
    .option("--model-repository <dir>", "model repository directory", DEFAULT_MODEL_REPOSITORY)
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .addOption(new Option("--http-port <port>", "HTTP port (0 picks a free one)").argParser(parse.port).default(8000))
    .addOption(new Option("--grpc-port <port>", "gRPC port (0 picks a free one)").argParser(parse.port).default(8001))
    .option("--allow-shared-memory", "enable the system_shared_memory extension (clients register POSIX shared memory and pass tensors by region)")
    .option(
      "--host-policy <name,cpu-cores=list>",
      "Triton's host policy, repeatable: a named set of CPU cores (e.g. core0,cpu-cores=0 or pool,cpu-cores=2-5); an instance_group with host_policy: \"name\" runs its instance threads on those cores only (Linux)",
      parse.collect,
    )
    // For `iaas bench`'s embedded server: exit when the parent that holds our stdin goes away.
    .addOption(new Option("--exit-on-stdin-close").hideHelp());
  addServeProtocolOptions(command);
  addServeObservabilityOptions(command);
  addServeLimitOptions(command);
  addServeModelControlOptions(command);
  addServeSecurityOptions(command)
    .addHelpText(
      "after",
      `
Once both front ends listen, prints one JSON line to stdout:
  {"event":"listening","httpUrl":"http://127.0.0.1:8000","grpcUrl":"127.0.0.1:8001","httpPort":8000,"grpcPort":8001,...}
and a human-readable line to stderr. Exit codes: 0 stopped by a signal, 1 could not start.`,
    )
    .action(async (flags: ServeFlags) => {
      await runServe(flags);
    });
}

async function runServe(flags: ServeFlags): Promise<void> {
  let hostPolicies;
  try {
    hostPolicies = parseHostPolicies(flags.hostPolicy ?? []);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const observability = serveObservabilityOptions(flags);
  const tracing = startServeTracing(flags);
  const server = await startServer({
    ...observability,
    ...serveSecurityOptions(flags),
    ...serveProtocolOptions(flags),
    ...serveLimitOptions(flags),
    ...serveModelControlOptions(flags),
    host: flags.host,
    httpPort: flags.httpPort,
    grpcPort: flags.grpcPort,
    sharedMemory: flags.allowSharedMemory === true ? "system" : "none",
    hostPolicies,
    modelRepository: flags.modelRepository,
    log: (message) => process.stderr.write(`iaas serve: ${message}\n`),
  });
  const info = await backendInfo();
  const backends = info.available;
  const gpus = info.gpus.map((g) => `${g.id}: ${g.name}`).join(", ");
  const event: ListeningEvent = {
    event: "listening",
    httpUrl: server.httpUrl,
    grpcUrl: server.grpcUrl,
    httpPort: server.httpPort,
    grpcPort: server.grpcPort,
    pid: process.pid,
    modelRepository: flags.modelRepository,
    backends,
    ...(server.metricsPort !== undefined ? { metricsPort: server.metricsPort, metricsUrl: server.metricsUrl } : {}),
  };
  // Signal handlers go in before the listening line: a supervisor may send SIGTERM as soon as it reads it.
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal?: NodeJS.Signals | string) => {
      if (stopping) process.exit(1); // a second signal while closing: give up on a clean stop
      stopping = true;
      process.stderr.write(`iaas serve: ${typeof signal === "string" ? signal : "stdin closed"}: stopping; requests in flight may take up to ${flags.exitTimeoutSecs ?? 30} s\n`);
      void server.close().then(() => tracing?.shutdown()).then(resolve, (err: unknown) => {
        process.stderr.write(`iaas serve: error while closing: ${(err as Error).message}\n`);
        process.exitCode = 1;
        resolve();
      });
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    if (flags.exitOnStdinClose) {
      const parentGone = () => {
        if (!stopping) stop();
      };
      process.stdin.on("end", parentGone);
      process.stdin.on("close", parentGone);
      process.stdin.resume();
    }
  });
  process.stdout.write(`${JSON.stringify(event)}\n`);
  process.stderr.write(
    `iaas serve: HTTP ${server.httpUrl}, gRPC ${server.grpcUrl}${server.metricsUrl ? `, metrics ${server.metricsUrl}` : ""}, models from ${flags.modelRepository}` +
      `, backends ${backends.join(",")}${gpus ? ` (GPU ${gpus})` : info.cudaUnavailableReason ? ` (no CUDA: ${info.cudaUnavailableReason})` : ""}; Ctrl-C stops\n`,
  );

  await stopped;
  // Open keep-alive connections or a paused stdin must not keep the process up after a clean close.
  process.exit(process.exitCode ?? 0);
}
