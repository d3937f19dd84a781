// The repository-root launcher (./iaas) and the README's quick start, as a newcomer meets them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test("README quick start holds exactly two commands: the bench launcher and the test runner", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const m = /^## Quick start\s*\n+```[a-z]*\n([\s\S]*?)```/m.exec(readme);
  assert.ok(m, "README has a '## Quick start' heading followed by a fenced code block");
  const lines = m[1]!.split("\n").filter((l) => l.trim() !== "");
  assert.deepEqual(lines, ["./iaas bench --concurrency 1..64", "./run-tests"]);
});

test("./iaas runs any subcommand after set-up, and bench measures against the embedded server", async () => {
  const help = await run("./iaas", ["--help"]);
  assert.equal(help.code, 0, help.stderr);
  for (const sub of ["bench", "serve", "infer"]) assert.match(help.stdout, new RegExp(`\\b${sub}\\b`));

  const dir = mkdtempSync(join(tmpdir(), "iaas-launcher-"));
  try {
    const json = join(dir, "levels.json");
    const bench = await run("./iaas", ["bench", "--concurrency", "1..2", "--warmup-ms", "100", "--window-ms", "300", "--json", json]);
    assert.equal(bench.code, 0, bench.stderr);
    const report = JSON.parse(readFileSync(json, "utf8"));
    const levels = report.levels as { concurrency: number; throughput: number }[];
    assert.deepEqual(levels.map((l) => l.concurrency), [1, 2]);
    for (const l of levels) assert.ok(l.throughput > 0, `level ${l.concurrency} measured no throughput`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
