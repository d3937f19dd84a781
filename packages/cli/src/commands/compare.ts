// `iaas compare BASELINE.json CURRENT.json`: the CI gate over two `iaas bench --json` reports.
import { Option, type Command } from "commander";
import { compareReports, CompareInputError, DEFAULT_COMPARE, formatComparison, readReport } from "../gate/compare.ts";
import { EXIT } from "./errors.ts";
import * as parse from "./parsers.ts";

interface CompareFlags {
  maxThroughputDrop: number;
  maxP99Rise: number;
}

export function registerCompare(program: Command): void {
  program
    .command("compare")
    .description("compare two iaas bench --json reports level by level; fail on a throughput drop or p99 rise")
    .argument("<baseline>", "baseline report (iaas bench --json)")
    .argument("<current>", "current report")
    .addOption(
      new Option("--max-throughput-drop <pct>", "largest allowed throughput drop per level, e.g. 10%")
        .argParser(parse.percentage)
        .default(DEFAULT_COMPARE.maxThroughputDrop, `${DEFAULT_COMPARE.maxThroughputDrop * 100}%`),
    )
    .addOption(
      new Option("--max-p99-rise <pct>", "largest allowed p99 latency rise per level, e.g. 15%").argParser(parse.percentage).default(DEFAULT_COMPARE.maxP99Rise, `${DEFAULT_COMPARE.maxP99Rise * 100}%`),
    )
    .addHelpText(
      "after",
      `
Levels are matched by (instances, mode, load), e.g. (2, concurrency, 8). The table shows both sides and the
relative change; "new" levels (only in the current report) are listed, not gated. Reports from older iaas
versions (no schemaVersion) are read too.

Exit codes: 0 no regression, 3 at least one level regressed, 4 input unusable: a file unreadable or not an
iaas bench report, a newer schema version, different model or batch size, a baseline level missing from the
current report, or no level in common. 2 usage error.`,
    )
    .action((baselineFile: string, currentFile: string, flags: CompareFlags) => {
      process.exitCode = runCompare(baselineFile, currentFile, flags);
    });
}

function runCompare(baselineFile: string, currentFile: string, flags: CompareFlags): number {
  let comparison;
  try {
    comparison = compareReports(readReport(baselineFile), readReport(currentFile), { maxThroughputDrop: flags.maxThroughputDrop, maxP99Rise: flags.maxP99Rise });
  } catch (err) {
    if (!(err instanceof CompareInputError)) throw err;
    process.stderr.write(`iaas compare: error: ${err.message}\n`);
    return EXIT.badInput;
  }
  process.stdout.write(`${formatComparison(comparison)}\n`);
  if (comparison.mismatches.length > 0 || comparison.missing > 0) return EXIT.badInput;
  return comparison.regressions > 0 ? EXIT.gateFailed : EXIT.ok;
}
