// Instance behaviour: threads, overlap, event-loop friendliness, errors, close, and backend reporting.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEFAULT_ADDON_PATH, backendInfo, loadNativeAddon } from "../src/native/addon.ts";
import type { ExecuteTimings, NativeInstance } from "../src/native/types.ts";
import { bytesOf, makeDenseLayers, randomFloats } from "./native-fixtures.ts";

const addon = loadNativeAddon();
// Large enough that one execution takes milliseconds on a CPU core.
const bigLayers = makeDenseLayers([256, 1024, 1024, 16], 11);

function denseRequest(batch: number) {
  return {
    inputs: [bytesOf(randomFloats(batch * 256, batch))],
    outputs: [new Uint8Array(batch * 16 * 4)],
    batch,
  };
}

function hrNow(): number {
  return Number(process.hrtime.bigint());
}

test("backendInfo is consistent with the build and the machine", () => {
  const info = backendInfo();
  assert.equal(info.compiled[0], "cpu");
  assert.ok(info.available.includes("cpu"));
  for (const kind of info.available) assert.ok(info.compiled.includes(kind), `${kind} available but not compiled`);
  assert.ok(info.cpuIsa === "avx2+fma" || info.cpuIsa === "generic");

  const buildInfoPath = DEFAULT_ADDON_PATH.replace(/iaas_native\.node$/, "build-info.json");
  if (existsSync(buildInfoPath)) {
    const built = JSON.parse(readFileSync(buildInfoPath, "utf8")) as { backends: string[] };
    assert.deepEqual(info.compiled, built.backends, "build-info.json and the loaded addon agree");
  }
  if (info.compiled.includes("cuda")) assert.match(info.cudaRuntimeVersion ?? "", /^\d+\.\d+$/);

  if (info.available.includes("cuda")) {
    assert.ok(info.gpus.length > 0);
    assert.equal(info.cudaUnavailableReason, undefined);
    for (const gpu of info.gpus) {
      assert.ok(gpu.name.length > 0 && gpu.totalMemoryBytes > 0);
      assert.match(gpu.computeCapability, /^\d+\.\d+$/);
    }
  } else {
    assert.ok(typeof info.cudaUnavailableReason === "string" && info.cudaUnavailableReason.length > 0);
    assert.throws(
      () => addon.createInstance({ name: "no_gpu", kernel: "copy", device: "cuda" }),
      (err: Error) => err.message.includes(`CUDA backend not available: ${info.cudaUnavailableReason}`),
    );
  }
});

test("two instances execute at the same time on their own threads", async () => {
  const a = addon.createInstance({ name: "overlap_a", kernel: "dense_mlp", device: "cpu", layers: bigLayers });
  const b = addon.createInstance({ name: "overlap_b", kernel: "dense_mlp", device: "cpu", layers: bigLayers });
  try {
    // Several executions per instance, so each instance is busy for tens of milliseconds: on a loaded 2-core
    // machine one 4 ms execution per instance can finish before the other thread is even scheduled.
    const before = hrNow();
    const runs = (inst: typeof a) => Promise.all(Array.from({ length: 6 }, () => inst.execute(denseRequest(64))));
    const [ra, rb] = await Promise.all([runs(a), runs(b)]);
    const after = hrNow();
    for (const t of [...ra, ...rb]) {
      assert.ok(before <= t.startNs && t.startNs <= t.endNs && t.endNs <= after, "timestamps are on process.hrtime's clock");
    }
    const span = (rs: typeof ra) => ({ start: rs[0]!.startNs, end: rs[rs.length - 1]!.endNs });
    const [sa, sb] = [span(ra), span(rb)];
    assert.ok(sa.start < sb.end && sb.start < sa.end, `busy periods overlap: ${JSON.stringify({ sa, sb })}`);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test("one instance runs its executions one after another, in order", async () => {
  const inst = addon.createInstance({ name: "serial", kernel: "dense_mlp", device: "cpu", layers: bigLayers });
  try {
    const results = await Promise.all([1, 2, 3].map(() => inst.execute(denseRequest(16))));
    for (let i = 1; i < results.length; i++) {
      assert.ok(results[i]!.startNs >= results[i - 1]!.endNs, "no two executions of one instance overlap");
    }
    // queueNs is the real wait: the last job was queued before the second one finished (it was submitted
    // at once; a JS thread preempted for a whole execution could queue it after the second one started).
    assert.ok(results[2]!.queueNs >= results[2]!.startNs - results[1]!.endNs, "the last job waited behind the second");
    assert.ok(results[2]!.queueNs > 0, "the last job waited");
  } finally {
    await inst.close();
  }
});

test("the JS event loop keeps running while an execution is in flight", async () => {
  const inst = addon.createInstance({ name: "loop", kernel: "dense_mlp", device: "cpu", layers: bigLayers });
  try {
    let ticks = 0;
    let settled = false;
    let ticksBeforeSettle = -1;
    const tick = (): void => {
      if (settled) return;
      ticks++;
      setImmediate(tick);
    };
    setImmediate(tick);
    await inst.execute(denseRequest(256)).then(() => {
      settled = true;
      ticksBeforeSettle = ticks;
    });
    assert.ok(ticksBeforeSettle > 0, "setImmediate callbacks ran before the execution finished");
  } finally {
    await inst.close();
  }
});

test("close() finishes queued executions first, is idempotent, and later executes reject", async () => {
  const inst = addon.createInstance({ name: "closing", kernel: "dense_mlp", device: "cpu", layers: bigLayers });
  const order: string[] = [];
  const jobs = [0, 1, 2].map((i) => inst.execute(denseRequest(8)).then((t: ExecuteTimings) => (order.push(`job${i}`), t)));
  const closed = inst.close().then(() => order.push("closed"));
  const closedAgain = inst.close().then(() => order.push("closed again"));
  await Promise.all([...jobs, closed, closedAgain]);
  assert.deepEqual(order.slice(0, 4), ["job0", "job1", "job2", "closed"]);
  await inst.close();
  await assert.rejects(inst.execute(denseRequest(1)), (err: Error & { code?: string }) => {
    assert.equal(err.code, "ERR_IAAS_INSTANCE_CLOSED");
    assert.match(err.message, /"closing".*closed/);
    return true;
  });
});

test("bad execute requests reject with errors naming the field", async () => {
  const add = addon.createInstance({ name: "bad_add", kernel: "add_sub_i32", device: "cpu" });
  const dense = addon.createInstance({ name: "bad_dense", kernel: "dense_mlp", device: "cpu", layers: makeDenseLayers([4, 2], 1) });
  const copy = addon.createInstance({ name: "bad_copy", kernel: "copy", device: "cpu" });
  const u8 = (n: number) => new Uint8Array(n);
  const cases: [NativeInstance, unknown, ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor, RegExp][] = [
    [add, undefined, TypeError, /request must be an object/],
    [add, { inputs: u8(4), outputs: [] }, TypeError, /request\.inputs must be an array/],
    [add, { inputs: [u8(4), "x"], outputs: [u8(4), u8(4)] }, TypeError, /request\.inputs\[1\] must be a Uint8Array/],
    [add, { inputs: [u8(4)], outputs: [u8(4), u8(4)] }, RangeError, /"add_sub_i32" takes 2 input\(s\) and 2 output\(s\); got 1 and 2/],
    [add, { inputs: [u8(6), u8(6)], outputs: [u8(6), u8(6)] }, RangeError, /inputs\[0\] is 6 bytes, not a whole number of INT32/],
    [add, { inputs: [u8(8), u8(4)], outputs: [u8(8), u8(8)] }, RangeError, /inputs\[1\] is 4 bytes; expected 8/],
    [add, { inputs: [u8(8), u8(8)], outputs: [u8(8), u8(12)] }, RangeError, /outputs\[1\] is 12 bytes; expected 8/],
    [copy, { inputs: [u8(3)], outputs: [u8(4)] }, RangeError, /outputs\[0\] is 4 bytes; expected 3/],
    [copy, { inputs: [], outputs: [] }, RangeError, /at least one input/],
    [dense, { inputs: [u8(16)], outputs: [u8(8)] }, TypeError, /request\.batch must be a positive integer/],
    [dense, { inputs: [u8(16)], outputs: [u8(8)], batch: 1.5 }, RangeError, /request\.batch must be an integer/],
    [dense, { inputs: [u8(16)], outputs: [u8(8)], batch: 2 }, RangeError, /inputs\[0\] is 16 bytes; expected 32 \(FP32 \[batch=2, 4\]\)/],
    [dense, { inputs: [u8(16)], outputs: [u8(4)], batch: 1 }, RangeError, /outputs\[0\] is 4 bytes; expected 8/],
  ];
  const shared = u8(64);
  cases.push([copy, { inputs: [shared.subarray(0, 8)], outputs: [shared.subarray(4, 12)] }, RangeError, /outputs\[0\] overlaps request\.inputs\[0\]/]);
  try {
    for (const [inst, request, type, message] of cases) {
      const pending = inst.execute(request as never);
      assert.ok(pending instanceof Promise, "execute reports bad requests through the promise");
      await assert.rejects(pending, (err: Error) => {
        assert.ok(err instanceof type, `${JSON.stringify(String(message))}: got ${err.constructor.name}: ${err.message}`);
        assert.match(err.message, message);
        assert.match(err.message, new RegExp(`^execute\\("${inst.name}"\\)`));
        return true;
      });
    }
    // The instances still work after rejected requests.
    const out = u8(8);
    await dense.execute({ inputs: [bytesOf(new Float32Array([1, 2, 3, 4]))], outputs: [out], batch: 1 });
  } finally {
    await Promise.all([add.close(), dense.close(), copy.close()]);
  }
});

test("bad instance options throw errors naming the field", () => {
  const w = (n: number) => new Float32Array(n);
  const cases: [unknown, TypeErrorConstructor | RangeErrorConstructor, RegExp][] = [
    [null, TypeError, /options must be an object/],
    [{ kernel: "copy", device: "cpu" }, TypeError, /options\.name must be a non-empty string/],
    [{ name: "x", kernel: "conv", device: "cpu" }, TypeError, /options\.kernel must be one of .* \(got "conv"\)/],
    [{ name: "x", kernel: "copy", device: "gpu" }, TypeError, /options\.device must be "cpu" or "cuda" \(got "gpu"\)/],
    [{ name: "x", kernel: "copy", device: "cpu", deviceId: 1.5 }, RangeError, /options\.deviceId/],
    [{ name: "x", kernel: "copy", device: "cpu", layers: [] }, TypeError, /options\.layers is only used by kernel "dense_mlp"/],
    [{ name: "x", kernel: "dense_mlp", device: "cpu" }, TypeError, /options\.layers must be a non-empty array/],
    [{ name: "x", kernel: "dense_mlp", device: "cpu", layers: [] }, RangeError, /at least one layer/],
    [{ name: "x", kernel: "dense_mlp", device: "cpu", layers: [{ inFeatures: 0, outFeatures: 2, weights: w(0), bias: w(2) }] }, RangeError, /options\.layers\[0\]\.inFeatures must be an integer from 1/],
    [{ name: "x", kernel: "dense_mlp", device: "cpu", layers: [{ inFeatures: 3, outFeatures: 2, weights: w(5), bias: w(2) }] }, RangeError, /options\.layers\[0\]\.weights has 5 elements; expected outFeatures \* inFeatures = 2 \* 3 = 6/],
    [{ name: "x", kernel: "dense_mlp", device: "cpu", layers: [{ inFeatures: 3, outFeatures: 2, weights: new Float64Array(6), bias: w(2) }] }, TypeError, /options\.layers\[0\]\.weights must be a Float32Array/],
    [{ name: "x", kernel: "dense_mlp", device: "cpu", layers: [{ inFeatures: 3, outFeatures: 2, weights: w(6), bias: w(3) }] }, RangeError, /options\.layers\[0\]\.bias has 3 elements; expected outFeatures = 2/],
    [{ name: "x", kernel: "dense_mlp", device: "cpu", layers: [{ inFeatures: 3, outFeatures: 2, weights: w(6), bias: w(2) }, { inFeatures: 4, outFeatures: 1, weights: w(4), bias: w(1) }] }, RangeError, /options\.layers\[1\]\.inFeatures is 4 but options\.layers\[0\]\.outFeatures is 2/],
  ];
  for (const [options, type, message] of cases) {
    assert.throws(() => addon.createInstance(options as never), (err: Error) => {
      assert.ok(err instanceof type, `${String(message)}: got ${err.constructor.name}: ${err.message}`);
      assert.match(err.message, message);
      return true;
    });
  }
});

test("instances keep the process alive only while work is in flight", () => {
  // An instance that is never closed must not hold the process open once its execution settled; one with
  // a pending execution must keep it alive until the result is delivered.
  const addonUrl = new URL("../src/native/addon.ts", import.meta.url).href;
  const script = `
    import { readdirSync, readFileSync } from "node:fs";
    import { loadNativeAddon } from ${JSON.stringify(addonUrl)};
    const addon = loadNativeAddon();
    const idle = addon.createInstance({ name: "idle", kernel: "copy", device: "cpu" });
    // Dropped without close(): garbage collection must stop its thread (named after the instance).
    const threads = () => readdirSync("/proc/self/task")
      .map((t) => { try { return readFileSync("/proc/self/task/" + t + "/comm", "utf8").trim(); } catch { return ""; } })
      .filter((name) => name === "dropped_inst");
    (() => addon.createInstance({ name: "dropped_inst", kernel: "copy", device: "cpu" }))();
    const before = threads().length;
    for (let i = 0; i < 20 && threads().length > 0; i++) {
      globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    console.log("dropped thread", before, "->", threads().length);
    const busy = addon.createInstance({ name: "busy", kernel: "copy", device: "cpu" });
    await idle.execute({ inputs: [new Uint8Array(4)], outputs: [new Uint8Array(4)] });
    const big = new Uint8Array(64 << 20).fill(7);
    const out = new Uint8Array(64 << 20);
    // Not awaited: only the pending job keeps the loop alive until it resolves.
    busy.execute({ inputs: [big], outputs: [out] }).then(() => console.log("delivered", out[out.length - 1]));
  `;
  const child = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 30_000,
    cwd: fileURLToPath(new URL(".", import.meta.url)),
  });
  assert.equal(child.error, undefined, "the child exits by itself (no timeout)");
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), "dropped thread 1 -> 0\ndelivered 7");
});

test("process.exit() while executions are queued and running exits cleanly", () => {
  const addonUrl = new URL("../src/native/addon.ts", import.meta.url).href;
  const script = `
    import { loadNativeAddon } from ${JSON.stringify(addonUrl)};
    const addon = loadNativeAddon();
    const inst = addon.createInstance({ name: "exiting", kernel: "copy", device: "cpu" });
    const big = new Uint8Array(32 << 20);
    for (let i = 0; i < 4; i++) inst.execute({ inputs: [big], outputs: [new Uint8Array(32 << 20)] });
    setImmediate(() => process.exit(3));
  `;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 30_000,
    cwd: fileURLToPath(new URL(".", import.meta.url)),
  });
  assert.equal(child.error, undefined, "the child exits (no hang)");
  assert.equal(child.signal, null, `no crash: ${child.stderr}`);
  assert.equal(child.status, 3, child.stderr);
});
