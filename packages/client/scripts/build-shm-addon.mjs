#!/usr/bin/env node
// Builds the client's shared-memory addon (native/shm.cc -> build/Release/iaas_shm.node) with g++. No
// node-gyp: the Node-API headers come from the installed node-api-headers and node-addon-api packages, so
// nothing is downloaded. Only @iaas/client/shm needs it; the rest of the client works without it.
//
//   node scripts/build-shm-addon.mjs [--if-needed] [--out DIR]
//     --if-needed  do nothing when source, flags and compiler hash to the recorded build
//     --out DIR    write iaas_shm.node and build-info.json to DIR instead of build/Release
//   env: CXX picks the C++ compiler.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(import.meta.url);
const PKG = resolve(dirname(SCRIPT), "..");
const SOURCE = join(PKG, "native", "shm.cc");
// Header shared with @iaas/server-native's addon (it adds native/ to its include path).
const HEADERS = [join(PKG, "native", "shm_mapping.h")];
const ADDON_FILE = "iaas_shm.node";
const NAPI_VERSION = 8;

class BuildError extends Error {}

function log(message) {
  process.stderr.write(`[build-shm-addon] ${message}\n`);
}

function parseArgs(argv) {
  const args = { ifNeeded: false, outDir: join(PKG, "build", "Release") };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--if-needed") args.ifNeeded = true;
    else if (arg === "--out" || arg.startsWith("--out=")) {
      const value = arg === "--out" ? argv[++i] : arg.slice("--out=".length);
      if (!value) throw new BuildError("--out needs a directory");
      args.outDir = resolve(value);
    } else if (arg === "--help" || arg === "-h") {
      process.stdout.write(readFileSync(SCRIPT, "utf8").split("\n").slice(1, 10).map((l) => l.replace(/^\/\/ ?/, "")).join("\n") + "\n");
      process.exit(0);
    } else throw new BuildError(`unknown argument ${JSON.stringify(arg)} (expected --if-needed, --out DIR)`);
  }
  return args;
}

function findOnPath(name) {
  const executable = (file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (isAbsolute(name)) return executable(name) ? name : null;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) if (dir && executable(join(dir, name))) return join(dir, name);
  return null;
}

function packageDir(require, name) {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new BuildError(`npm package ${name} is not installed; run pnpm install in the repository root`);
  }
}

function plan() {
  if (process.platform !== "linux" && process.platform !== "darwin" && process.platform !== "freebsd")
    throw new BuildError(`POSIX shared memory is not available on ${process.platform}`);
  const cxx = findOnPath(process.env.CXX || "g++");
  if (!cxx)
    throw new BuildError(`C++ compiler ${process.env.CXX || "g++"} not found on PATH; install it (Debian/Ubuntu: apt-get install g++) or set CXX`);
  const require = createRequire(join(PKG, "package.json"));
  const napiHeadersPkg = packageDir(require, "node-api-headers");
  const addonApi = packageDir(require, "node-addon-api");
  const flags = ["-std=gnu++17", "-O2", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter",
    `-DNAPI_VERSION=${NAPI_VERSION}`, "-DNODE_ADDON_API_CPP_EXCEPTIONS", "-DNODE_ADDON_API_DISABLE_DEPRECATED",
    `-I${join(napiHeadersPkg, "include")}`, `-I${addonApi}`];
  // glibc before 2.34 keeps shm_open in librt; linking it is harmless where it is part of libc.
  const linkFlags = ["-shared", ...(process.platform === "linux" ? ["-lrt"] : []), ...(process.platform === "darwin" ? ["-undefined", "dynamic_lookup"] : [])];
  const versions = [napiHeadersPkg, addonApi].map((d) => JSON.parse(readFileSync(join(d, "package.json"), "utf8")).version);
  const hash = createHash("sha256")
    .update(readFileSync(SCRIPT, "utf8")).update("\0")
    .update(readFileSync(SOURCE, "utf8")).update("\0")
    .update(HEADERS.map((h) => readFileSync(h, "utf8")).join("\0")).update("\0")
    .update(JSON.stringify({ cxx, flags, linkFlags, versions, arch: process.arch }))
    .digest("hex");
  return { cxx, flags, linkFlags, hash };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const p = plan();
  const addonPath = join(args.outDir, ADDON_FILE);
  const infoPath = join(args.outDir, "build-info.json");
  if (args.ifNeeded && existsSync(addonPath)) {
    try {
      if (JSON.parse(readFileSync(infoPath, "utf8")).inputHash === p.hash) return;
    } catch {}
  }
  mkdirSync(args.outDir, { recursive: true });
  const started = performance.now();
  const tmp = `${addonPath}.${process.pid}.tmp`;
  const result = spawnSync(p.cxx, [...p.flags, SOURCE, "-o", tmp, ...p.linkFlags], { encoding: "utf8" });
  if (result.error) throw new BuildError(`could not run ${p.cxx}: ${result.error.message}`);
  if (result.status !== 0) {
    rmSync(tmp, { force: true });
    throw new BuildError(`${p.cxx} failed (exit ${result.status}):\n  ${[p.cxx, ...p.flags, SOURCE, "-o", tmp, ...p.linkFlags].join(" ")}\n${result.stdout}${result.stderr}`);
  }
  if (`${result.stdout}${result.stderr}`.trim()) process.stderr.write(`${result.stdout}${result.stderr}`);
  // Rename, not overwrite: a running process keeps its mapped copy intact.
  renameSync(tmp, addonPath);
  const buildMs = Math.round(performance.now() - started);
  writeFileSync(infoPath, JSON.stringify({ inputHash: p.hash, builtAt: new Date().toISOString(), buildMs, napiVersion: NAPI_VERSION, cxx: p.cxx, flags: p.flags, linkFlags: p.linkFlags }, null, 2) + "\n");
  const shown = relative(process.cwd(), addonPath);
  log(`built ${shown.startsWith("..") ? addonPath : shown} in ${(buildMs / 1000).toFixed(1)}s`);
}

try {
  main();
} catch (err) {
  if (!(err instanceof BuildError)) throw err;
  log(`error: ${err.message}`);
  process.exit(1);
}
