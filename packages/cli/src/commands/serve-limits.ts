// `iaas serve` flags for request size limits (the HTTP body limit, Triton's --http-max-input-size, which
// also caps the inflated size of gzip/deflate bodies; the gRPC receive message limit) and for how long a
// SIGTERM/SIGINT waits for requests in flight (Triton's --exit-timeout-secs).
import { InvalidArgumentError, Option, type Command } from "commander";
import type { StartServerOptions } from "@iaas/server-native";
import * as parse from "./parsers.ts";

export interface ServeLimitFlags {
  maxBodyBytes?: number;
  grpcMaxReceiveBytes?: number;
  exitTimeoutSecs?: number;
}

/** grpc-js cannot take a larger receive limit. */
const GRPC_CEILING = 2 ** 31 - 1;

function grpcLimit(value: string): number {
  const n = parse.integerAtLeast(1)(value);
  if (n > GRPC_CEILING) throw new InvalidArgumentError(`expected at most ${GRPC_CEILING} (grpc-js's largest message).`);
  return n;
}

export function addServeLimitOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--max-body-bytes <n>", "largest HTTP request body in bytes, also after gzip/deflate decompression (413 above it)")
        .argParser(parse.integerAtLeast(1))
        .default(64 * 1024 * 1024, "64 MiB"),
    )
    .addOption(
      new Option("--grpc-max-receive-bytes <n>", "largest gRPC request message in bytes (RESOURCE_EXHAUSTED above it)")
        .argParser(grpcLimit)
        .default(GRPC_CEILING, "2 GiB - 1, as Triton"),
    )
    .addOption(
      new Option("--exit-timeout-secs <s>", "on SIGTERM/SIGINT, how long to wait for requests and streams in flight before cutting them")
        .argParser(parse.integerAtLeast(0))
        .default(30),
    );
}

type LimitOptions = Pick<StartServerOptions, "maxBodyBytes" | "maxGrpcReceiveBytes" | "shutdownGraceMs">;

export function serveLimitOptions(flags: ServeLimitFlags): LimitOptions {
  const out: LimitOptions = {};
  if (flags.maxBodyBytes !== undefined) out.maxBodyBytes = flags.maxBodyBytes;
  if (flags.grpcMaxReceiveBytes !== undefined) out.maxGrpcReceiveBytes = flags.grpcMaxReceiveBytes;
  if (flags.exitTimeoutSecs !== undefined) out.shutdownGraceMs = flags.exitTimeoutSecs * 1000;
  return out;
}
