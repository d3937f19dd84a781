// `iaas bench`: concurrency sweep with a table on stdout and an optional JSON report.
import { Option, type Command } from "commander";
import { bench, BenchError, DEFAULT_MODEL, type BenchOptions, type BenchResult } from "../bench.ts";
import { parseShapeOptions, type InputDataMode } from "../inputs/index.ts";
import { DEFAULT_MEASUREMENT } from "../load/level.ts";
import type { WindowStats } from "../load/window.ts";
import { formatBenchHeader, formatTableHeader, formatTableRow, writeJsonReport } from "../report/index.ts";
import { EXIT, UsageError } from "./errors.ts";
import * as parse from "./parsers.ts";

interface BenchFlags {
  model: string;
  url?: string;
  protocol: "http" | "grpc";
  modelVersion?: string;
  concurrency: number[];
  json?: string;
  batchSize: number;
  shape?: string[];
  warmupMs: number;
  windowMs: number;
  maxTrials: number;
  stabilityPercentage: number;
  percentile: number | "avg";
  inputData: InputDataMode;
  seed: number;
  stringLength: number;
  header?: Record<string, string>;
  jsonTensors?: boolean;
  modelRepository?: string;
  verbose?: boolean;
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("closed-loop concurrency sweep against one model (perf_analyzer style)")
    .addOption(new Option("-m, --model <name>", "model to load").default(DEFAULT_MODEL))
    .option("-u, --url <url>", "server URL (http://host:port, or host:port for gRPC); absent: start the embedded reference server")
    .addOption(new Option("-i, --protocol <protocol>", "protocol").choices(["http", "grpc"]).default("http"))
    .option("--model-version <version>", "model version (server's latest when absent)")
    .addOption(
      new Option("-c, --concurrency <range>", "levels: N, A..B (doubling from A, B included) or A..B:STEP")
        .argParser(parse.range)
        .default([1], "1"),
    )
    .option("--json <file>", "write every level's numbers and windows here (rewritten after each level)")
    .addOption(new Option("-b, --batch-size <n>", "samples per request (models with max_batch_size > 0)").argParser(parse.integerAtLeast(1)).default(1))
    .option("--shape <name:dims>", "dimensions of a variable-shape input without the batch dimension, e.g. INPUT0:16 (repeatable)", parse.shape)
    .addOption(new Option("--warmup-ms <ms>", "load before measuring, discarded").argParser(parse.integerAtLeast(0)).default(DEFAULT_MEASUREMENT.warmupMs))
    .addOption(new Option("--window-ms <ms>", "measurement window length").argParser(parse.integerAtLeast(1)).default(DEFAULT_MEASUREMENT.windowMs))
    .addOption(new Option("--max-trials <n>", "most windows per level (>= 3)").argParser(parse.integerAtLeast(3)).default(DEFAULT_MEASUREMENT.maxTrials))
    .addOption(
      new Option("--stability-percentage <pct>", "the last 3 windows must agree within this % on throughput and latency")
        .argParser(parse.positiveNumber)
        .default(DEFAULT_MEASUREMENT.stabilityPercentage),
    )
    .addOption(new Option("--percentile <p>", "latency checked for stability: a percentile such as 99, or avg (the mean, as perf_analyzer does by default)").argParser(parse.percentile).default(DEFAULT_MEASUREMENT.percentile))
    .addOption(new Option("--input-data <kind>", "request data").choices(["zero", "random"]).default("zero"))
    .addOption(new Option("--seed <n>", "seed of --input-data random").argParser(parse.integerAtLeast(0)).default(1))
    .addOption(new Option("--string-length <n>", "characters per BYTES element").argParser(parse.integerAtLeast(0)).default(16))
    .option("-H, --header <header>", 'HTTP header / gRPC metadata "Name: value" sent with every request (repeatable)', parse.header)
    .option("--json-tensors", "HTTP: send and receive tensors as JSON instead of the binary extension")
    .option("--model-repository <dir>", "model repository of the embedded server (without -u)")
    .option("-v, --verbose", "print every measurement window to stderr")
    .addHelpText(
      "after",
      `
Output: a header line, then one row per level: concurrency, throughput (inferences/s, requests x batch),
latency p50/p90/p95/p99/avg/min/max in microseconds (merged last 3 windows), successful requests, errors,
and whether the level was stable. Error codes and their first message follow a row with errors.

Exit codes: 0 all levels measured (unstable levels included), 1 runtime error (server unreachable, model not
found, every request of a level failed), 2 usage error, 130 interrupted (SIGINT; the JSON file keeps the
finished levels).

Examples:
  iaas bench --concurrency 1..64                      embedded server, model simple
  iaas bench -u localhost:8001 -i grpc -m dense_mlp -b 8 -c 1..32 --json out.json`,
    )
    .action(async (flags: BenchFlags) => {
      process.exitCode = await runBench(flags);
    });
}

function toOptions(flags: BenchFlags, signal: AbortSignal): BenchOptions {
  if (flags.modelRepository !== undefined && flags.url !== undefined)
    throw new UsageError("--model-repository configures the embedded server; it cannot be used with -u");
  if (flags.jsonTensors && flags.protocol === "grpc") throw new UsageError("--json-tensors applies to HTTP only; gRPC always sends raw tensors");
  let shapes;
  try {
    shapes = parseShapeOptions(flags.shape ?? []);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const options: BenchOptions = {
    protocol: flags.protocol,
    model: flags.model,
    concurrency: flags.concurrency,
    batchSize: flags.batchSize,
    shapes,
    data: flags.inputData,
    seed: flags.seed,
    stringLength: flags.stringLength,
    warmupMs: flags.warmupMs,
    windowMs: flags.windowMs,
    maxTrials: flags.maxTrials,
    stabilityPercentage: flags.stabilityPercentage,
    percentile: flags.percentile,
    jsonTensors: flags.jsonTensors ?? false,
    signal,
  };
  if (flags.url !== undefined) options.url = flags.url;
  if (flags.modelVersion !== undefined) options.modelVersion = flags.modelVersion;
  if (flags.modelRepository !== undefined) options.modelRepository = flags.modelRepository;
  if (flags.header) options.headers = flags.header;
  return options;
}

async function runBench(flags: BenchFlags): Promise<number> {
  const abort = new AbortController();
  const options = toOptions(flags, abort.signal);
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(EXIT.interrupted); // second Ctrl-C: do not wait for the drain
    process.stderr.write("\niaas bench: interrupted, stopping (the JSON file keeps the finished levels)\n");
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const save = (result: BenchResult) => {
    if (flags.json !== undefined) writeJsonReport(flags.json, result);
  };
  try {
    const result = await bench(options, {
      onStart: (r) => {
        process.stdout.write(`${formatBenchHeader(r)}\n${formatTableHeader()}\n`);
        save(r);
      },
      onLevel: (level, r) => {
        process.stdout.write(`${formatTableRow(level)}\n`);
        if (level.clientUtilization > 0.95)
          process.stderr.write(
            `iaas bench: warning: the load generator's event loop was ${Math.round(level.clientUtilization * 100)}% busy at concurrency ${level.concurrency}; the client may be the bottleneck\n`,
          );
        save(r);
      },
      ...(flags.verbose
        ? {
            onWindow: (c: number, s: WindowStats, i: number) =>
              process.stderr.write(
                `  c=${c} window ${i + 1}: ${s.throughput.toFixed(1)} infer/s, p50 ${s.latencyUs.p50} us, ${s.latencyUs.selected.percentile === "avg" ? "avg" : `p${s.latencyUs.selected.percentile}`} ${s.latencyUs.selected.value} us, ${s.requests} requests, ${s.errorCount} errors\n`,
              ),
          }
        : {}),
    });
    save(result);
    if (result.interrupted) return EXIT.interrupted;
    const unstable = result.levels.filter((l) => !l.stable).map((l) => l.concurrency);
    if (unstable.length > 0)
      process.stderr.write(
        `iaas bench: ${unstable.length} level(s) unstable (concurrency ${unstable.join(", ")}): the last 3 windows differed by more than ${result.settings.stabilityPercentage}%; try longer --window-ms or a larger --stability-percentage\n`,
      );
    return EXIT.ok;
  } catch (err) {
    if (err instanceof BenchError && err.result) save(err.result);
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
