// The `iaas` command line: commander wiring and exit codes. Everything it runs is in the programmatic API.
import { Command, CommanderError } from "commander";
import { InferenceError } from "@iaas/client";
import { registerBench } from "./commands/bench.ts";
import { registerCompare } from "./commands/compare.ts";
import { EXIT, UsageError } from "./commands/errors.ts";
import { registerInfer } from "./commands/infer.ts";
import { registerServe } from "./commands/serve.ts";
import { VERSION } from "./version.ts";

export function createProgram(): Command {
  const program = new Command("iaas")
    .description("benchmark and drive KServe v2 inference servers (a perf_analyzer analogue)")
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      `
Exit codes: 0 success, 1 runtime or server error, 2 usage error, 3 performance gate failed (bench --fail-if
breached, compare found a regression), 4 compare input unreadable or mismatched, 130 interrupted (bench).

Quick start:
  iaas bench --concurrency 1..64          sweep the embedded reference server's "simple" model
  iaas bench --request-rate 100..800 --csv out.csv --json out.json
  iaas compare baseline.json out.json --max-throughput-drop 10% --max-p99-rise 15%
  iaas serve --http-port 8000 --grpc-port 8001`,
    );
  registerBench(program);
  registerCompare(program);
  registerServe(program);
  registerInfer(program);
  return program;
}

function errorMessage(err: unknown): string {
  if (err instanceof InferenceError) return `${err.message} [${err.code}]`;
  return err instanceof Error ? err.message : String(err);
}

/** Runs the command line; resolves to the exit code instead of exiting, so callers can test it. */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (err) {
    // commander already printed its message (usage errors) or the help/version text (exit code 0).
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const command = program.args[0] ?? "";
    process.stderr.write(`iaas${command ? ` ${command}` : ""}: error: ${errorMessage(err)}\n`);
    return err instanceof UsageError ? EXIT.usage : EXIT.runtime;
  }
}
