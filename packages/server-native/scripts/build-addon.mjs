#!/usr/bin/env node
// Builds the native compute addon (native/ -> build/Release/iaas_native.node) with g++ and, when present,
// nvcc. No node-gyp: the Node-API headers come from the installed node-api-headers and node-addon-api
// packages, so nothing is downloaded.
//
//   node scripts/build-addon.mjs [--if-needed] [--out DIR]
//     --if-needed  do nothing when sources, flags and toolchain paths hash to the recorded build
//     --out DIR    write iaas_native.node and build-info.json to DIR instead of build/Release
//   env: IAAS_CUDA=0 builds CPU-only; IAAS_NVCC=/path/to/nvcc picks nvcc; IAAS_CUDA_ARCHS=75,80,...
//        picks GPU architectures; CXX picks the C++ compiler; IAAS_BUILD_JOBS sets parallel compiles.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { basename, delimiter, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(import.meta.url);
const PKG = resolve(dirname(SCRIPT), "..");
const NATIVE = join(PKG, "native");
const ADDON_FILE = "iaas_native.node";
const DEFAULT_ARCHS = [75, 80, 86, 89, 90];
const NAPI_VERSION = 8;

class BuildError extends Error {}

function log(message) {
  process.stderr.write(`[build-addon] ${message}\n`);
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

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name) {
  if (isAbsolute(name)) return isExecutable(name) ? name : null;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return null;
}

function findNvcc() {
  if (process.env.IAAS_CUDA === "0") return { nvcc: null, why: "IAAS_CUDA=0" };
  const override = process.env.IAAS_NVCC;
  if (override) {
    if (!isExecutable(override)) throw new BuildError(`IAAS_NVCC=${override} is not an executable file`);
    return { nvcc: override };
  }
  const found = findOnPath("nvcc") ?? (isExecutable("/usr/local/cuda/bin/nvcc") ? "/usr/local/cuda/bin/nvcc" : null);
  return found ? { nvcc: found } : { nvcc: null, why: "nvcc not found on PATH or in /usr/local/cuda/bin" };
}

// The toolkit root holds include/cuda_runtime_api.h and the static runtime. nvcc is often a symlink or a
// wrapper script (e.g. /usr/local/bin/nvcc), so the usual locations are tried after the one next to it.
function findCudaRoot(nvcc) {
  let beside = null;
  try {
    beside = dirname(dirname(realpathSync(nvcc)));
  } catch {}
  const candidates = [process.env.CUDA_HOME, process.env.CUDA_PATH, beside, "/usr/local/cuda"].filter(Boolean);
  for (const root of candidates) {
    if (!existsSync(join(root, "include", "cuda_runtime_api.h"))) continue;
    for (const lib of ["lib64", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib", "lib"]) {
      if (existsSync(join(root, lib, "libcudart_static.a"))) return { root, libDir: join(root, lib) };
    }
  }
  throw new BuildError(
    `found nvcc at ${nvcc} but no CUDA toolkit (include/cuda_runtime_api.h and libcudart_static.a) in ${candidates.join(", ")}; ` +
      "set CUDA_HOME to the toolkit, or IAAS_CUDA=0 to build without CUDA",
  );
}

function cudaArchs() {
  const raw = process.env.IAAS_CUDA_ARCHS;
  if (!raw) return DEFAULT_ARCHS;
  const archs = raw.split(/[,;\s]+/).filter(Boolean).map((a) => Number(a.replace(/^sm_/, "")));
  if (archs.length === 0 || archs.some((a) => !Number.isInteger(a) || a < 50)) {
    throw new BuildError(`IAAS_CUDA_ARCHS=${raw} must list compute capabilities like 75,80,90`);
  }
  return archs;
}

function packageDir(require, name) {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new BuildError(`npm package ${name} is not installed; run pnpm install in the repository root`);
  }
}

// Looked up through node_modules directly: @iaas/client exports neither its package.json nor native/, and
// its dist/ may not be built yet when the addon is.
function clientPackageDir(require) {
  for (const modules of require.resolve.paths("@iaas/client") ?? []) {
    const dir = join(modules, "@iaas", "client");
    if (existsSync(join(dir, "native", "shm_mapping.h"))) return realpathSync(dir);
  }
  throw new BuildError("@iaas/client (with native/shm_mapping.h) is not installed; run pnpm install in the repository root");
}

function listFiles(dir, test) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && test(e.name))
    .map((e) => join(dir, e.name))
    .sort();
}

function sha256(...parts) {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part).update("\0");
  return hash.digest("hex");
}

// The file and every header it pulls in with #include "..." (recursively; found beside the including file
// or in one of includeDirs), so an object is recompiled exactly when something it includes from native/
// or @iaas/client's native/ changed. System and <...> headers are not followed.
function localIncludeClosure(file, readCache, includeDirs) {
  const seen = new Set();
  const visit = (path) => {
    if (seen.has(path)) return;
    seen.add(path);
    if (!readCache.has(path)) readCache.set(path, readFileSync(path, "utf8"));
    for (const match of readCache.get(path).matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
      const target = [dirname(path), ...includeDirs].map((dir) => resolve(dir, match[1])).find((f) => existsSync(f));
      if (target) visit(target);
    }
  };
  visit(file);
  return [...seen].sort();
}

function plan() {
  const cxx = findOnPath(process.env.CXX || "g++");
  if (!cxx) {
    throw new BuildError(
      `C++ compiler ${process.env.CXX || "g++"} not found on PATH; install it (Debian/Ubuntu: apt-get install g++) or set CXX`,
    );
  }
  const require = createRequire(join(PKG, "package.json"));
  const napiHeadersPkg = packageDir(require, "node-api-headers");
  const napiHeaders = join(napiHeadersPkg, "include");
  const addonApi = packageDir(require, "node-addon-api");
  // shared_memory.cc maps shm objects with the client's header-only helper (native/shm_mapping.h).
  const clientNative = join(clientPackageDir(require), "native");
  const { nvcc, why: cudaSkipped } = findNvcc();
  const cuda = nvcc ? { nvcc, ...findCudaRoot(nvcc), archs: cudaArchs() } : null;
  const x64 = process.arch === "x64";

  const defines = [`-DNAPI_VERSION=${NAPI_VERSION}`, "-DNODE_ADDON_API_CPP_EXCEPTIONS", "-DNODE_ADDON_API_DISABLE_DEPRECATED"];
  if (cuda) defines.push("-DIAAS_WITH_CUDA");
  if (x64) defines.push("-DIAAS_HAVE_AVX2_KERNELS");
  // -ffp-contract=fast lets the dense kernels fuse multiply-add (ISO -std modes turn it off);
  // no -march: the binary may run on another machine, so ISA-specific code is dispatched at run time.
  const cxxFlags = ["-std=gnu++17", "-O3", "-fPIC", "-fvisibility=hidden", "-pthread", "-ffp-contract=fast",
    "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-psabi", ...defines, `-I${napiHeaders}`, `-I${addonApi}`];

  const units = [];
  for (const src of listFiles(NATIVE, (n) => n.endsWith(".cc"))) {
    const flags = basename(src) === "shared_memory.cc" ? [...cxxFlags, `-I${clientNative}`] : cxxFlags;
    units.push({ src, tool: "cxx", flags });
  }
  if (x64) {
    for (const src of listFiles(join(NATIVE, "x86"), (n) => n.endsWith(".cc"))) {
      units.push({ src, tool: "cxx", flags: [...cxxFlags, "-mavx2", "-mfma"] });
    }
  }
  let nvccFlags = [];
  if (cuda) {
    const cudaInclude = `-I${join(cuda.root, "include")}`;
    for (const src of listFiles(join(NATIVE, "cuda"), (n) => n.endsWith(".cc"))) {
      units.push({ src, tool: "cxx", flags: [...cxxFlags, cudaInclude] });
    }
    const top = Math.max(...cuda.archs);
    nvccFlags = ["-std=c++17", "-O3", "-ccbin", cxx, "-Xcompiler", "-fPIC", "-Xcompiler", "-fvisibility=hidden",
      ...defines, ...cuda.archs.map((a) => `-gencode=arch=compute_${a},code=sm_${a}`),
      // PTX for the newest listed architecture lets later GPUs JIT-compile the kernels.
      `-gencode=arch=compute_${top},code=compute_${top}`];
    for (const src of listFiles(join(NATIVE, "cuda"), (n) => n.endsWith(".cu"))) units.push({ src, tool: "nvcc", flags: nvccFlags });
  }

  const linkFlags = ["-shared", "-pthread", "-Wl,--exclude-libs,ALL"];
  // Static cudart: the addon loads (and reports "no GPU") on machines without the CUDA toolkit.
  if (cuda) linkFlags.push(`-L${cuda.libDir}`, "-lcudart_static", "-ldl", "-lrt", "-lpthread");

  const readCache = new Map();
  const versions = [napiHeadersPkg, addonApi].map((d) => JSON.parse(readFileSync(join(d, "package.json"), "utf8")).version);
  for (const unit of units) {
    const sources = localIncludeClosure(unit.src, readCache, [clientNative]);
    unit.key = sha256(unit.tool, unit.tool === "cxx" ? cxx : cuda.nvcc, JSON.stringify(unit.flags),
      ...sources.map((f) => `${relative(NATIVE, f)}\n${readCache.get(f)}`));
  }
  const hash = sha256(readFileSync(SCRIPT, "utf8"), JSON.stringify({ cxx, cuda, linkFlags, arch: process.arch, versions }),
    ...units.map((u) => `${relative(NATIVE, u.src)}:${u.key}`));
  return { cxx, cuda, cudaSkipped, units, cxxFlags, nvccFlags, linkFlags, hash, x64 };
}

function run(cmd, args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", (err) => reject(new BuildError(`could not run ${cmd}: ${err.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) resolvePromise(output);
      else reject(new BuildError(`${basename(cmd)} failed (${signal ?? `exit ${code}`}):\n  ${[cmd, ...args].join(" ")}\n${output}`));
    });
  });
}

function toolVersion(cmd, args, pattern) {
  const result = spawnSync(cmd, args, { encoding: "utf8" });
  const text = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  const match = pattern.exec(text);
  return match ? match[1] : text.trim().split("\n").pop() ?? "unknown";
}

async function compileAll(p, objDir) {
  mkdirSync(objDir, { recursive: true });
  const jobs = Math.max(1, Number(process.env.IAAS_BUILD_JOBS) || Math.min(2, availableParallelism()));
  // nvcc units take longest: start them first so the g++ units fill the other slot.
  const queue = [...p.units].sort((a, b) => (a.tool === b.tool ? 0 : a.tool === "nvcc" ? -1 : 1));
  let compiled = 0;
  const objects = [];
  async function worker() {
    for (let unit = queue.shift(); unit; unit = queue.shift()) {
      const obj = join(objDir, `${relative(NATIVE, unit.src).replaceAll("/", "__")}.o`);
      objects.push(obj);
      const keyFile = `${obj}.key`;
      if (existsSync(obj) && existsSync(keyFile) && readFileSync(keyFile, "utf8") === unit.key) continue;
      const tmp = `${obj}.${process.pid}.tmp`;
      const cmd = unit.tool === "cxx" ? p.cxx : p.cuda.nvcc;
      const output = await run(cmd, [...unit.flags, "-c", unit.src, "-o", tmp]);
      if (output.trim()) process.stderr.write(output);
      renameSync(tmp, obj);
      writeFileSync(keyFile, unit.key);
      compiled++;
    }
  }
  await Promise.all(Array.from({ length: jobs }, worker));
  return { objects: objects.sort(), compiled };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const p = plan();
  const addonPath = join(args.outDir, ADDON_FILE);
  const infoPath = join(args.outDir, "build-info.json");
  if (args.ifNeeded && existsSync(addonPath)) {
    try {
      if (JSON.parse(readFileSync(infoPath, "utf8")).inputHash === p.hash) return;
    } catch {}
  }

  const started = performance.now();
  const { objects, compiled } = await compileAll(p, join(args.outDir, "obj"));
  const tmpAddon = `${addonPath}.${process.pid}.tmp`;
  await run(p.cxx, [...objects, "-o", tmpAddon, ...p.linkFlags]);
  // Rename, not overwrite: a running server keeps its mapped copy intact.
  renameSync(tmpAddon, addonPath);
  const buildMs = Math.round(performance.now() - started);

  const backends = p.cuda ? ["cpu", "cuda"] : ["cpu"];
  const info = {
    inputHash: p.hash,
    builtAt: new Date().toISOString(),
    buildMs,
    objectsCompiled: compiled,
    backends,
    napiVersion: NAPI_VERSION,
    cpuVariants: p.x64 ? ["generic", "avx2+fma"] : ["generic"],
    cxx: { path: p.cxx, version: toolVersion(p.cxx, ["-dumpfullversion"], /^(\S+)/), flags: p.cxxFlags },
    cuda: p.cuda
      ? {
          nvcc: p.cuda.nvcc,
          version: toolVersion(p.cuda.nvcc, ["--version"], /release \S+ V(\S+)/),
          root: p.cuda.root,
          archs: p.cuda.archs.map((a) => `sm_${a}`),
          flags: p.nvccFlags,
        }
      : null,
    cudaSkippedReason: p.cuda ? undefined : p.cudaSkipped,
    linkFlags: p.linkFlags,
  };
  writeFileSync(infoPath, JSON.stringify(info, null, 2) + "\n");
  const what = p.cuda ? `cpu+cuda (${info.cuda.archs.join(",")}, nvcc ${info.cuda.version})` : `cpu only (${p.cudaSkipped})`;
  const shown = relative(process.cwd(), addonPath);
  log(`built ${shown.startsWith("..") ? addonPath : shown}: ${what}, ${compiled}/${objects.length} objects compiled in ${(buildMs / 1000).toFixed(1)}s`);
}

main().catch((err) => {
  if (err instanceof BuildError) {
    log(`error: ${err.message}`);
    process.exit(1);
  }
  throw err;
});
