// `iaas bench`: a load sweep with a table on stdout and optional CSV / JSON files, perf_analyzer style.
import { Option, type Command } from "commander";
import { bench, BenchError, clientLimited, DEFAULT_MODEL, describeLevel, type BenchLevel, type BenchOptions, type BenchResult, type LevelLabel } from "../bench.ts";
import { formatActual, parseThreshold } from "../gate/thresholds.ts";
import { parseShapeOptions } from "../inputs/index.ts";
import { DEFAULT_MEASUREMENT, type MeasurementMode } from "../load/level.ts";
import { DEFAULT_MAX_OUTSTANDING } from "../load/open-loop.ts";
import type { Distribution } from "../load/schedule.ts";
import { LATE_THRESHOLD_MS, type WindowStats } from "../load/window.ts";
import { formatBenchHeader, formatTableHeader, formatTableRow, writeCsvReport, writeJsonReport } from "../report/index.ts";
import { createProgress, formatWindow } from "../report/progress.ts";
import { EXIT, UsageError } from "./errors.ts";
import { addBenchExtraOptions, benchExtraOptions, BENCH_EXTRA_HELP, finishBenchExtras, modelOption, startBenchExtras, type BenchExtraFlags } from "./bench-extras.ts";
import * as parse from "./parsers.ts";

interface BenchFlags extends BenchExtraFlags {
  model?: string[];
  url?: string;
  protocol?: "http" | "grpc";
  modelVersion?: string;
  concurrency?: number[];
  requestRate?: number[];
  distribution?: Distribution;
  requestIntervals?: string;
  maxOutstanding: number;
  instances?: number[];
  json?: string;
  csv?: string;
  batchSize: number;
  shape?: string[];
  warmupMs: number;
  measurementInterval?: number;
  windowMs?: number;
  measurementMode: MeasurementMode;
  measurementRequestCount: number;
  maxTrials: number;
  stabilityPercentage: number;
  stabilityWindows: number;
  percentile: number | "avg";
  latencyThreshold?: number;
  failIf?: string[];
  serverStats: boolean;
  inputData: string;
  seed: number;
  stringLength: number;
  header?: Record<string, string>;
  jsonTensors?: boolean;
  modelRepository?: string;
  verbose?: boolean;
}

const HELP = `
Load (one of):
  -c A..B          closed loop: N requests always in flight (default: -c 1)
  --request-rate   open loop: requests leave at scheduled times whatever is outstanding; latency counts from
                   the scheduled time (coordinated omission corrected, as wrk2) and, separately, from the send
  --request-intervals FILE   open loop replaying FILE's gaps (microseconds, one per line) in a loop
  Ranges: N; A..B doubles from A and includes B; A..B:STEP; A..B:xFACTOR (e.g. 1..64:x4 = 1,4,16,64).

A request sent more than ${LATE_THRESHOLD_MS} ms after its scheduled time is late (perf_analyzer's rule); the table
shows the late share and the send rate next to the target, and warns above 1%. A request due while
--max-outstanding requests are outstanding waits for a free slot (counted, and warned about). Measuring starts
once the schedule is kept (the warm-up goes on, up to 5 s, while the generator is behind), so a backlog from
the warm-up is not counted as rate; the JSON's achievedRate is completed requests per second.

--instances A..B reloads the model for each count through the model repository extension (load with a config
override: the current config with only instance_group count changed), waits until ready, runs the load sweep,
and at the end loads the original config back (not with the embedded server, which is stopped anyway).
Without the extension the sweep runs once at the current count, with a note.

Measurement: windows of --measurement-interval ms (or of --measurement-request-count requests with
--measurement-mode count_windows, ended after 10 intervals at the latest). A level is stable when its last
--stability-windows windows agree within --stability-percentage on throughput and the --percentile latency;
it stops there, after --max-trials windows (marked unstable; the sweep goes on), or at a window whose latency
is over --latency-threshold (which also ends that sweep). Reported numbers merge the last --stability-windows
windows. The server columns come from the statistics extension (empty with a note when the server has none).

Output: a header line, then one row per level: load, throughput (inferences/s = requests x batch), latency
percentiles/avg/min/max in microseconds, the server's average request time and the client+network overhead
(client average minus server average), successful requests, errors (codes and first message below the row),
stability. --csv writes perf_analyzer's columns (rows in load order); --json writes every window and the
merged HDR histogram per level (schemaVersion 2). Both are rewritten after every level.

--fail-if "METRIC OP VALUE" (repeatable): p50 p90 p95 p99 p99.9 avg min max (unit us, ms or s; ms when absent),
throughput (inferences/s), errors and late (percent). Every level must pass every threshold.

Exit codes: 0 every level measured (unstable levels included), 1 runtime error (server unreachable, model not
found, every request of a level failed, the model cannot be loaded with a count), 2 usage error, 3 a --fail-if
threshold breached at some level, 130 interrupted (SIGINT; the CSV and JSON files keep the finished levels).

Examples:
  iaas bench --concurrency 1..64                              embedded server, model simple
  iaas bench -u localhost:8001 -i grpc -m dense_mlp -b 8 -c 1..32 --json out.json
  iaas bench --request-rate 100..800 --distribution poisson --csv rate.csv
  iaas bench -m dense_mlp --instances 1..4:1 -c 1..16 --fail-if "p99<50ms" --fail-if "throughput>500"`;

export function registerBench(program: Command): void {
  const command = program
    .command("bench")
    .description("load sweep against one model: closed-loop concurrency, open-loop request rate, instance counts (perf_analyzer style)")
    .addOption(new Option("-m, --model <name[:weight]>", `model to load; repeat for several at once, the load split by weight (-m a:3 -m b:1) (default: ${DEFAULT_MODEL})`).argParser(modelOption))
    .option("-u, --url <url>", "server URL (http://host:port, or host:port for gRPC); absent: start the embedded reference server")
    .addOption(new Option("-i, --protocol <protocol>", "protocol (default: from the URL: grpc:// and grpcs:// are gRPC, else http)").choices(["http", "grpc"]))
    .option("--model-version <version>", "model version (server's latest when absent)")
    .addOption(new Option("-c, --concurrency <range>", "closed loop levels: N, A..B (doubling, B included), A..B:STEP or A..B:xF (default: 1)").argParser(parse.range))
    .addOption(new Option("--request-rate <range>", "open loop target rates in requests/s: R, A..B, A..B:STEP or A..B:xF").argParser(parse.rateRange).conflicts(["concurrency"]))
    .addOption(new Option("--distribution <kind>", "arrivals of --request-rate: constant or poisson (seeded by --seed) (default: constant)").choices(["constant", "poisson"]))
    .addOption(new Option("--request-intervals <file>", "open loop replaying FILE: one interval in microseconds per line, looped").conflicts(["concurrency", "requestRate"]))
    .addOption(new Option("--max-outstanding <n>", "open loop: most requests outstanding; a request due beyond it waits for a slot").argParser(parse.integerAtLeast(1)).default(DEFAULT_MAX_OUTSTANDING))
    .addOption(new Option("--instances <range>", "instance_group counts to sweep, e.g. 1..4:1 (reloads the model via the repository extension)").argParser(parse.range))
    .option("-f, --csv <file>", "perf_analyzer-style CSV, rewritten after each level")
    .option("--json <file>", "every level's numbers, windows and HDR histograms, rewritten after each level")
    .addOption(new Option("-b, --batch-size <n>", "samples per request (models with max_batch_size > 0)").argParser(parse.integerAtLeast(1)).default(1))
    .option("--shape <name:dims>", "dimensions of a variable-shape input without the batch dimension, e.g. INPUT0:16 (repeatable)", parse.shape)
    .addOption(new Option("--warmup-ms <ms>", "load before measuring, discarded").argParser(parse.integerAtLeast(0)).default(DEFAULT_MEASUREMENT.warmupMs))
    .addOption(new Option("-p, --measurement-interval <ms>", `time window length (default: ${DEFAULT_MEASUREMENT.windowMs})`).argParser(parse.integerAtLeast(1)).conflicts(["windowMs"]))
    .addOption(new Option("--window-ms <ms>", "same as --measurement-interval").argParser(parse.integerAtLeast(1)))
    .addOption(new Option("--measurement-mode <mode>", "time_windows or count_windows").choices(["time_windows", "count_windows"]).default(DEFAULT_MEASUREMENT.measurementMode))
    .addOption(new Option("--measurement-request-count <n>", "requests per count window").argParser(parse.integerAtLeast(1)).default(DEFAULT_MEASUREMENT.measurementRequestCount))
    .addOption(new Option("-r, --max-trials <n>", "most windows per level").argParser(parse.integerAtLeast(1)).default(DEFAULT_MEASUREMENT.maxTrials))
    .addOption(
      new Option("-s, --stability-percentage <pct>", "the last windows must agree within this % on throughput and latency")
        .argParser(parse.positiveNumber)
        .default(DEFAULT_MEASUREMENT.stabilityPercentage),
    )
    .addOption(new Option("--stability-windows <k>", "how many last windows must agree (and are merged)").argParser(parse.integerAtLeast(1)).default(DEFAULT_MEASUREMENT.stabilityWindows))
    .addOption(new Option("--percentile <p>", "latency for stability and --latency-threshold: a percentile such as 99, or avg (perf_analyzer's default)").argParser(parse.percentile).default(DEFAULT_MEASUREMENT.percentile))
    .addOption(new Option("-l, --latency-threshold <ms>", "end the sweep after a level whose latency (--percentile) exceeds this").argParser(parse.positiveNumber))
    .option("--fail-if <threshold>", 'exit 3 unless every level passes, e.g. "p99<50ms", "throughput>1000", "errors<1%" (repeatable)', parse.threshold)
    .option("--no-server-stats", "do not read the server's statistics (no server-side breakdown)")
    .addOption(new Option("--input-data <kind|file>", "request data: zero, random, or a file of requests sent in turn (KServe v2 JSON .json, Arrow IPC .arrow: one row per request)").default("zero"))
    .addOption(new Option("--seed <n>", "seed of --input-data random and --distribution poisson").argParser(parse.integerAtLeast(0)).default(1))
    .addOption(new Option("--string-length <n>", "characters per BYTES element").argParser(parse.integerAtLeast(0)).default(16))
    .option("-H, --header <header>", 'HTTP header / gRPC metadata "Name: value" sent with every request (repeatable)', parse.header)
    .option("--json-tensors", "HTTP: send and receive tensors as JSON instead of the binary extension")
    .option("--model-repository <dir>", "model repository of the embedded server (without -u)")
    .option("-v, --verbose", "print every measurement window to stderr");
  addBenchExtraOptions(command);
  command
    .addHelpText("after", HELP + BENCH_EXTRA_HELP)
    .action(async (flags: BenchFlags) => {
      process.exitCode = await runBench(flags);
    });
}

function toOptions(flags: BenchFlags, signal: AbortSignal): BenchOptions {
  if (flags.modelRepository !== undefined && flags.url !== undefined)
    throw new UsageError("--model-repository configures the embedded server; it cannot be used with -u");
  if (flags.jsonTensors && flags.protocol === "grpc") throw new UsageError("--json-tensors applies to HTTP only; gRPC always sends raw tensors");
  if (flags.distribution !== undefined && flags.requestRate === undefined) throw new UsageError("--distribution applies to --request-rate only");
  let shapes;
  try {
    shapes = parseShapeOptions(flags.shape ?? []);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const options: BenchOptions = {
    ...benchExtraOptions(flags),
    ...(flags.protocol !== undefined ? { protocol: flags.protocol } : {}),
    models: flags.model ?? [DEFAULT_MODEL],
    batchSize: flags.batchSize,
    shapes,
    data: flags.inputData,
    seed: flags.seed,
    stringLength: flags.stringLength,
    warmupMs: flags.warmupMs,
    windowMs: flags.measurementInterval ?? flags.windowMs ?? DEFAULT_MEASUREMENT.windowMs,
    measurementMode: flags.measurementMode,
    measurementRequestCount: flags.measurementRequestCount,
    maxTrials: flags.maxTrials,
    stabilityPercentage: flags.stabilityPercentage,
    stabilityWindows: flags.stabilityWindows,
    percentile: flags.percentile,
    latencyThresholdMs: flags.latencyThreshold ?? null,
    maxOutstanding: flags.maxOutstanding,
    serverStats: flags.serverStats,
    jsonTensors: flags.jsonTensors ?? false,
    signal,
  };
  if (flags.maxTrials < flags.stabilityWindows)
    throw new UsageError(`--max-trials ${flags.maxTrials} is less than --stability-windows ${flags.stabilityWindows}: a level needs that many windows to be stable`);
  if (flags.requestRate !== undefined) options.requestRate = flags.requestRate;
  else if (flags.requestIntervals !== undefined) options.requestIntervals = flags.requestIntervals;
  else if (flags.concurrencySchedule === undefined) options.concurrency = flags.concurrency ?? [1];
  if (flags.distribution !== undefined) options.distribution = flags.distribution;
  if (flags.instances !== undefined) options.instances = flags.instances;
  if (flags.failIf) options.failIf = flags.failIf;
  if (flags.url !== undefined) options.url = flags.url;
  if (flags.modelVersion !== undefined) options.modelVersion = flags.modelVersion;
  if (flags.modelRepository !== undefined) options.modelRepository = flags.modelRepository;
  if (flags.header) options.headers = flags.header;
  return options;
}

function warn(message: string): void {
  process.stderr.write(`iaas bench: warning: ${message}\n`);
}

function levelWarnings(level: BenchLevel, result: BenchResult): void {
  const where = describeLevel(level, result.settings.instances !== null);
  if (clientLimited(level))
    warn(
      `the load generator${level.workers ? `'s busiest worker thread` : ""} was ${Math.round(level.clientUtilization * 100)}% busy at ${where} while the server's queue stayed short: the client, not the server, limited the load${level.workers ? "; add --workers" : "; try --workers N"}`,
    );
  const o = level.openLoop;
  if (o && o.lateShare > 0.01)
    warn(
      `${(o.lateShare * 100).toFixed(1)}% of the requests at ${where} were sent more than ${LATE_THRESHOLD_MS} ms late (worst ${(o.maxLateUs / 1000).toFixed(1)} ms): the client could not keep the schedule; latency from the scheduled time includes the delay`,
    );
  if (o && o.sent > 0 && o.carriedIn > 0.01 * o.sent)
    warn(
      `the load generator was ${level.lagAtStartMs !== undefined && level.lagAtStartMs > LATE_THRESHOLD_MS ? `${level.lagAtStartMs.toFixed(1)} ms behind its schedule when measuring began at ${where} (still after ${level.catchUpMs} ms of extra warm-up)` : `behind its schedule at ${where}`}: ${o.carriedIn} of the ${o.sent} measured sends were scheduled before the measured windows, so the rates over-count by up to ${((o.carriedIn / o.sent) * 100).toFixed(1)}%; the machine did not sustain ${level.load}/s`,
    );
  if ((level.capDelayed ?? 0) > 0)
    warn(`${level.capDelayed} request(s) at ${where} waited for a free slot: --max-outstanding ${level.maxOutstanding} was reached (the server does not keep up with the rate)`);
  if (level.thresholdBreaches?.length) {
    const byExpr = new Map(result.settings.failIf.map((e) => [e, parseThreshold(e)]));
    for (const b of level.thresholdBreaches)
      process.stderr.write(`iaas bench: threshold breached at ${where}: ${b.expression} (${formatActual(byExpr.get(b.expression), b.actual)})\n`);
  }
}

async function runBench(flags: BenchFlags): Promise<number> {
  const abort = new AbortController();
  const options = toOptions(flags, abort.signal);
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(EXIT.interrupted); // second Ctrl-C: do not wait for the drain
    process.stderr.write("\niaas bench: interrupted, stopping (the CSV and JSON files keep the finished levels)\n");
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const extras = await startBenchExtras(flags);
  const save = (result: BenchResult) => {
    if (flags.json !== undefined) writeJsonReport(flags.json, result);
    if (flags.csv !== undefined) writeCsvReport(flags.csv, result);
    extras.save(result);
  };
  // The table goes to stdout; the live line goes to stderr, only when that is a terminal and --verbose is off.
  const progress = createProgress(flags.verbose ? { write: () => true } : process.stderr);
  try {
    const result = await bench(options, {
      onStart: (r) => {
        process.stdout.write(`${formatBenchHeader(r)}\n${formatTableHeader(r)}\n`);
        save(r);
      },
      onLevel: (level, r) => {
        progress.clear();
        process.stdout.write(`${formatTableRow(level, r)}\n`);
        levelWarnings(level, r);
        save(r);
      },
      onNote: (message) => {
        progress.clear();
        process.stderr.write(`iaas bench: note: ${message}\n`);
      },
      onWindow: (l: LevelLabel, s: WindowStats, i: number) => {
        const level = describeLevel(l, flags.instances !== undefined);
        if (flags.verbose) process.stderr.write(`  ${formatWindow(level, s, i)}\n`);
        else progress.window(level, s, i);
      },
    });
    save(result);
    if (result.interrupted) return EXIT.interrupted;
    // Schedule steps run for their duration: stability is not what ends them.
    const unstable = result.levels.filter((l) => !l.stable && l.stepDurationMs === undefined).map((l) => describeLevel(l, result.settings.instances !== null));
    if (unstable.length > 0)
      process.stderr.write(
        `iaas bench: ${unstable.length} level(s) unstable (${unstable.join("; ")}): the last ${result.settings.stabilityWindows} windows differed by more than ${result.settings.stabilityPercentage}%; try a longer --measurement-interval or a larger --stability-percentage\n`,
      );
    if (result.thresholdsPassed === false) {
      const failed = result.levels.filter((l) => l.thresholdBreaches?.length).length;
      process.stderr.write(`iaas bench: --fail-if: ${failed} of ${result.levels.length} level(s) breached a threshold\n`);
      return EXIT.gateFailed;
    }
    return EXIT.ok;
  } catch (err) {
    if (err instanceof BenchError && err.result) save(err.result);
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await finishBenchExtras(extras);
  }
}
