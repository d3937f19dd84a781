// Runs every test in the workspace with node's built-in runner.
// Test files are TypeScript, executed through Node's type stripping; they import the built packages.
import { globSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const patterns = ["packages/*/test/**/*.test.ts", "test/**/*.test.ts", "examples/**/*.test.ts", "bench/**/*.test.ts"];
const files = patterns.flatMap((p) => globSync(p, { cwd: root })).sort();
if (files.length === 0) {
  console.error("run-tests: no test files found");
  process.exit(1);
}
// Type-check the tests and examples too: node strips their types without checking them.
const check = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.check.json"], {
  cwd: root,
  stdio: "inherit",
});
if (check.status !== 0) {
  console.error("run-tests: type errors in tests or examples (tsc -p tsconfig.check.json)");
  process.exit(check.status ?? 1);
}

const args = [
  "--test",
  "--test-concurrency=2",
  "--test-timeout=300000",
  ...process.argv.slice(2),
  ...files,
];
const result = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
process.exit(result.status ?? 1);
