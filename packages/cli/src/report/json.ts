// The --json report, rewritten whole after every level so an interrupted sweep keeps what it measured.
import { renameSync, writeFileSync } from "node:fs";
import type { BenchResult } from "../bench.ts";

/** Writes atomically (temporary file, then rename): a reader never sees half a report. */
export function writeJsonReport(file: string, result: BenchResult): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(tmp, file);
}
