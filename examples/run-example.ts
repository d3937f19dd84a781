// Runs one example script the way a user would (a fresh Node process) and collects what it printed.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface ExampleRun {
  code: number | null;
  out: string;
}

/** `file` is relative to this folder; `nodeArgs` go before the script (e.g. `--no-deprecation`). */
export function runExample(file: string, args: string[], nodeArgs: string[] = []): Promise<ExampleRun> {
  return new Promise((resolve) => {
    const script = fileURLToPath(new URL(file, import.meta.url));
    const p = spawn(process.execPath, [...nodeArgs, script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("close", (code) => resolve({ code, out }));
  });
}
