// `iaas bench` options of the second parity round: several models and schedules, data files and validation,
// protocol pass-through (TLS, auth, compression, streaming, shared memory), Arrow and plot outputs, tracing.
// Kept apart from bench.ts so that each group stays readable; bench.ts hooks them in with a few lines.
import { readFileSync } from "node:fs";
import { InvalidArgumentError, Option, type Command } from "commander";
import { AUTO_WORKERS, type BenchOptions, type BenchResult } from "../bench.ts";
import { parseConcurrencySchedule } from "../load/concurrency-schedule.ts";
import { parseModelWeight } from "../requests/models.ts";
import { DEFAULT_OUTPUT_SHM_BYTES } from "../requests/pipeline.ts";
import { writeArrowReport } from "../report/arrow.ts";
import { writePlots } from "../report/plots.ts";
import type { BenchTracing } from "../tracing/bench-tracing.ts";
import { DEFAULT_TRACE_RATE, parseTraceRate, tracesUrl } from "../tracing/trace-options.ts";
import { UsageError } from "./errors.ts";
import * as parse from "./parsers.ts";

export interface BenchExtraFlags {
  concurrencySchedule?: string;
  validate?: boolean;
  streaming?: boolean;
  sharedMemory?: "none" | "system";
  outputSharedMemorySize?: number;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  authToken?: string;
  compression?: "gzip" | "deflate";
  grpcCompression?: "gzip" | "deflate";
  arrow?: string;
  plot?: string;
  otlpEndpoint?: string;
  traceRate?: number;
  workers?: number | "auto";
}

function workersValue(value: string): number | "auto" {
  if (value.trim() === "auto") return "auto";
  return parse.integerAtLeast(1)(value);
}

function schedule(value: string): string {
  try {
    parseConcurrencySchedule(value);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}.`);
  }
  return value;
}

function traceRate(value: string): number {
  try {
    return parseTraceRate(value);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}.`);
  }
}

function endpoint(value: string): string {
  try {
    tracesUrl(value);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}.`);
  }
  return value;
}

function model(value: string, previous: string[] | undefined): string[] {
  try {
    parseModelWeight(value);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}.`);
  }
  return parse.collect(value, previous);
}
export { model as modelOption };

export function addBenchExtraOptions(command: Command): Command {
  return command
    .addOption(new Option("--concurrency-schedule <steps>", 'closed-loop steps of fixed duration: "4@10s,16@10s", a ramp "1..16:x2@2s", repeated "1..8:x2@1s*3"').argParser(schedule).conflicts(["concurrency", "requestRate", "requestIntervals"]))
    .addOption(new Option("--workers <n|auto>", "load threads: N worker threads with a client each, or auto (1, more once the bench thread is the bottleneck)").argParser(workersValue).default("auto"))
    .option("--validate", "check every response against the expected outputs of the --input-data file; a mismatch is an error (code validation)")
    .option("--streaming", "gRPC: send the requests on one ModelStreamInfer stream (perf_analyzer's --streaming)")
    .addOption(new Option("--shared-memory <kind>", "system: inputs and outputs through POSIX shared memory (server needs --allow-shared-memory; the embedded one gets it)").choices(["none", "system"]).default("none"))
    .addOption(new Option("--output-shared-memory-size <bytes>", "bytes per output in shared memory when the metadata leaves its size open").argParser(parse.integerAtLeast(1)).default(DEFAULT_OUTPUT_SHM_BYTES))
    .option("--tls-ca <file>", "PEM CA certificate(s) trusted for the server (https:// and grpcs:// URLs)")
    .option("--tls-cert <file>", "PEM client certificate for mutual TLS (with --tls-key)")
    .option("--tls-key <file>", "PEM private key of --tls-cert")
    .option("--auth-token <token>", "send Authorization: Bearer TOKEN with every request")
    .addOption(new Option("--compression <algorithm>", "HTTP: compress request bodies (Content-Encoding)").choices(["gzip", "deflate"]))
    .addOption(new Option("--grpc-compression <algorithm>", "gRPC: message compression (perf_analyzer's --grpc-compression-algorithm)").choices(["gzip", "deflate"]))
    .option("--arrow <file>", "every measurement window as a row of an Arrow IPC file, rewritten after each level")
    .option("--plot <dir>", "write charts (SVG and PNG) into DIR: throughput vs load, latency vs throughput, throughput vs instances")
    .addOption(new Option("--otlp-endpoint <url>", "register the OpenTelemetry SDK and export sampled client spans over OTLP/HTTP to URL (e.g. http://localhost:4318)").argParser(endpoint))
    .addOption(new Option("--trace-rate <rate>", `share of requests traced and exported: 0.01, 1% or 1/100 (default: ${DEFAULT_TRACE_RATE} with --otlp-endpoint)`).argParser(traceRate));
}

export const BENCH_EXTRA_HELP = `

Load threads: --workers N runs the load in N worker threads (piscina), each with its own client and 1/N of
the concurrency or rate; their HDR histograms are merged per window. --workers auto (default) uses the bench
thread and switches the remaining levels to ${AUTO_WORKERS} threads after a level where the bench thread's event loop
was over 90% busy while the server's queue stayed short; the table warns in that case too. Worker threads
send plain requests of one model in time windows (no data file, streaming, shared memory, several models).

Several models: -m a -m b splits the load evenly, -m a:3 -m b:1 by weight (concurrency by largest remainder,
rates proportionally). Each level then reports the total (stability and --fail-if apply to it) and, in the
JSON's "models", each model's own numbers. No server-side breakdown with several models.

--concurrency-schedule "C@DURATION,...": closed-loop steps measured for a fixed time (windows of
--measurement-interval, no early stop at stability), one result row each; a step may be a range
("1..16:x2@2s") and "*N" repeats the whole schedule (periodic ramps). --warmup-ms applies before each step.

Input data files (--input-data FILE): requests are sent in file order, looping. JSON: a KServe v2 request
body, an array of them, or {"requests": [...]}; an "outputs" entry with "data" is that request's expected
output. Arrow IPC (.arrow/.arrows/.feather/.ipc): one row per request, columns named like the model's
inputs (and, for --validate, like its outputs). --validate compares bytes; the first mismatch is reported
("request 3: output "OUTPUT0": element 5 is 2, expected 3").

Protocol: https:// and grpcs:// URLs use TLS (--tls-ca, --tls-cert/--tls-key for mutual TLS); -i defaults
to the URL's protocol. --shared-memory system registers one input region (every request's inputs) and one
output region with a slot per request in flight, and removes them at the end.

Outputs: --arrow FILE (one row per window), --plot DIR (SVG + PNG charts).

Tracing: with --otlp-endpoint every request has its own CLIENT span and W3C traceparent; a --trace-rate
share of the traces is sampled and exported (batched, flushed at the end). --trace-rate alone propagates
traceparent without exporting. Traced runs keep the load on the bench thread.

More examples:
  iaas bench -m simple:3 -m identity_fp32:1 -c 8..32 --plot plots/           two models, 3:1, with charts
  iaas bench --concurrency-schedule "1..16:x2@5s*2" --arrow windows.arrow       a repeated ramp, per-window rows
  iaas bench -u grpcs://host:8001 --tls-ca ca.pem --auth-token T --streaming -c 16
  iaas bench -m identity_fp32 --input-data requests.json --validate --shared-memory system
  iaas bench --request-rate 20000 --workers 4                                   open loop from 4 threads
  iaas bench -c 8 --otlp-endpoint http://localhost:4318 --trace-rate 1/100      1% of requests traced`;

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
}

/** BenchOptions from the extra flags; throws a UsageError for contradictory ones. */
export function benchExtraOptions(flags: BenchExtraFlags & { protocol?: string; url?: string; inputData?: string }): Partial<BenchOptions> {
  const o: Partial<BenchOptions> = {};
  if (flags.concurrencySchedule !== undefined) o.concurrencySchedule = flags.concurrencySchedule;
  if (flags.workers !== undefined) o.workers = flags.workers;
  // The SDK is registered on the bench thread only: traced runs stay there.
  if (flags.otlpEndpoint !== undefined || flags.traceRate !== undefined) {
    if (typeof flags.workers === "number" && flags.workers > 1) throw new UsageError("--otlp-endpoint/--trace-rate trace the bench thread's requests; they do not combine with --workers N");
    o.workers = 1;
  }
  if (flags.validate) {
    if (flags.inputData === undefined || flags.inputData === "zero" || flags.inputData === "random")
      throw new UsageError("--validate needs --input-data FILE with expected outputs");
    o.validate = true;
  }
  const grpc = flags.protocol === "grpc" || (flags.protocol === undefined && flags.url !== undefined && /^grpcs?:\/\//.test(flags.url));
  if (flags.streaming) {
    if (!grpc) throw new UsageError("--streaming needs gRPC (-i grpc or a grpc:// URL): HTTP has no streaming inference");
    o.streaming = true;
  }
  if (flags.sharedMemory === "system") {
    o.sharedMemory = "system";
    if (flags.outputSharedMemorySize !== undefined) o.outputSharedMemorySize = flags.outputSharedMemorySize;
  }
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new UsageError("--tls-cert and --tls-key go together (mutual TLS)");
  if (flags.tlsCa !== undefined || flags.tlsCert !== undefined) {
    if (flags.url === undefined) throw new UsageError("--tls-* options need -u with an https:// or grpcs:// URL (the embedded server has no TLS)");
    o.tls = {
      ...(flags.tlsCa !== undefined ? { ca: readPem(flags.tlsCa, "--tls-ca") } : {}),
      ...(flags.tlsCert !== undefined ? { cert: readPem(flags.tlsCert, "--tls-cert"), key: readPem(flags.tlsKey!, "--tls-key") } : {}),
    };
  }
  if (flags.authToken !== undefined) o.auth = { bearer: flags.authToken };
  if (flags.compression !== undefined) {
    if (grpc) throw new UsageError("--compression is HTTP body compression; use --grpc-compression with gRPC");
    o.compression = flags.compression;
  }
  if (flags.grpcCompression !== undefined) {
    if (!grpc) throw new UsageError("--grpc-compression applies to gRPC; use --compression with HTTP");
    o.compression = flags.grpcCompression;
  }
  return o;
}

export interface BenchExtras {
  tracing: BenchTracing | undefined;
  /** Writes the Arrow file and plots for the result so far (errors are reported once, not thrown). */
  save(result: BenchResult): void;
  pending: Promise<void>;
  flags: BenchExtraFlags;
  last: BenchResult | undefined;
}

export async function startBenchExtras(flags: BenchExtraFlags): Promise<BenchExtras> {
  const tracing =
    flags.otlpEndpoint !== undefined || flags.traceRate !== undefined
      ? (await import("../tracing/bench-tracing.ts")).startBenchTracing({ ...(flags.otlpEndpoint !== undefined ? { endpoint: flags.otlpEndpoint } : {}), ...(flags.traceRate !== undefined ? { rate: flags.traceRate } : {}) })
      : undefined;
  const extras: BenchExtras = {
    tracing,
    flags,
    last: undefined,
    pending: Promise.resolve(),
    save(result) {
      if (flags.arrow === undefined && flags.plot === undefined) return;
      extras.last = result;
      // Serialised: a slow PNG render must not interleave with the next level's write.
      extras.pending = extras.pending.then(async () => {
        if (flags.arrow !== undefined) await writeArrowReport(flags.arrow, result);
        if (flags.plot !== undefined && result.levels.length > 0) await writePlots(flags.plot, result, false);
      });
      extras.pending.catch((err: unknown) => process.stderr.write(`iaas bench: warning: cannot write --arrow/--plot output: ${(err as Error).message}\n`));
      extras.pending = extras.pending.catch(() => {});
    },
  };
  return extras;
}

export async function finishBenchExtras(extras: BenchExtras): Promise<void> {
  await extras.pending;
  if (extras.flags.plot !== undefined && extras.last !== undefined && extras.last.levels.length > 0)
    await writePlots(extras.flags.plot, extras.last).catch((err: unknown) => process.stderr.write(`iaas bench: warning: cannot write --plot PNGs: ${(err as Error).message}\n`));
  await extras.tracing?.shutdown();
}
