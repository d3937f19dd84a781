// The build script: a CPU-only build (IAAS_CUDA=0) into a temporary directory, the --if-needed fast path,
// and clear failures for a missing toolchain.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadNativeAddon } from "../src/native/addon.ts";
import { bytesOf } from "./native-fixtures.ts";

const script = fileURLToPath(new URL("../scripts/build-addon.mjs", import.meta.url));
const outDir = mkdtempSync(join(tmpdir(), "iaas-addon-cpu-"));
after(() => rmSync(outDir, { recursive: true, force: true }));

function build(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [script, ...args], { env: { ...process.env, ...env }, encoding: "utf8" });
}

test("IAAS_CUDA=0 builds a CPU-only addon that loads and computes", async () => {
  const result = build(["--out", outDir], { IAAS_CUDA: "0" });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /cpu only \(IAAS_CUDA=0\)/);

  const info = JSON.parse(readFileSync(join(outDir, "build-info.json"), "utf8"));
  assert.deepEqual(info.backends, ["cpu"]);
  assert.equal(info.cuda, null);
  assert.match(info.inputHash, /^[0-9a-f]{64}$/);

  const addon = loadNativeAddon(join(outDir, "iaas_native.node"));
  const backends = addon.backendInfo();
  assert.deepEqual(backends.compiled, ["cpu"]);
  assert.deepEqual(backends.available, ["cpu"]);
  assert.match(backends.cudaUnavailableReason ?? "", /built without CUDA/);
  assert.throws(() => addon.createInstance({ name: "c", kernel: "copy", device: "cuda" }), /CUDA backend not available/);

  const inst = addon.createInstance({ name: "cpu_only", kernel: "add_sub_i32", device: "cpu" });
  const sum = new Int32Array(2);
  const diff = new Int32Array(2);
  await inst.execute({
    inputs: [bytesOf(new Int32Array([2147483647, 10])), bytesOf(new Int32Array([1, 3]))],
    outputs: [bytesOf(sum), bytesOf(diff)],
  });
  await inst.close();
  assert.deepEqual([...sum], [-2147483648, 13]);
  assert.deepEqual([...diff], [2147483646, 7]);
});

test("--if-needed does nothing when up to date, and relinks from cached objects when the record is gone", () => {
  const addonFile = join(outDir, "iaas_native.node");
  const before = statSync(addonFile).mtimeMs;
  const skipped = build(["--out", outDir, "--if-needed"], { IAAS_CUDA: "0" });
  assert.equal(skipped.status, 0, skipped.stderr);
  assert.equal(skipped.stderr, "", "silent when up to date");
  assert.equal(statSync(addonFile).mtimeMs, before, "the addon was not rewritten");

  rmSync(join(outDir, "build-info.json"));
  const relinked = build(["--out", outDir, "--if-needed"], { IAAS_CUDA: "0" });
  assert.equal(relinked.status, 0, relinked.stderr);
  assert.match(relinked.stderr, /built .*cpu only .*, 0\/\d+ objects compiled/);
  assert.deepEqual(JSON.parse(readFileSync(join(outDir, "build-info.json"), "utf8")).backends, ["cpu"]);
});

test("a missing compiler or nvcc fails with a clear message", () => {
  const noCxx = build(["--out", outDir], { IAAS_CUDA: "0", CXX: "/nonexistent/g++" });
  assert.equal(noCxx.status, 1);
  assert.match(noCxx.stderr, /C\+\+ compiler \/nonexistent\/g\+\+ not found.*apt-get install g\+\+/);

  const noNvcc = build(["--out", outDir], { IAAS_NVCC: "/nonexistent/nvcc" });
  assert.equal(noNvcc.status, 1);
  assert.match(noNvcc.stderr, /IAAS_NVCC=\/nonexistent\/nvcc is not an executable file/);

  const badArg = build(["--fast"], {});
  assert.equal(badArg.status, 1);
  assert.match(badArg.stderr, /unknown argument "--fast"/);
});
