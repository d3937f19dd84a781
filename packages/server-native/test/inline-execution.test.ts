// Inline execution of tiny CPU kernels on the JS thread (native/instance_core.h, scheduler/inline-execution.ts):
// when it happens, when it must not, that both paths compute the same thing with timings of the same meaning,
// and how models choose it (default, config parameter, kernels and devices that never take it).
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadNativeAddon } from "../src/native/addon.ts";
import type { InstanceOptions, NativeAddon, NativeInstance } from "../src/native/types.ts";
import { InferenceServer } from "../src/core/inference-server.ts";
import {
  DEFAULT_INLINE_MAX_BYTES,
  INLINE_EXECUTION_PARAMETER,
  instanceInlineMaxBytes,
} from "../src/scheduler/inline-execution.ts";
import { identityConfig, tempRepository } from "./helpers.ts";
import { makeDenseLayers } from "./native-fixtures.ts";

const addon = loadNativeAddon();

/**
 * Whether `promise` settles within a few microtask turns. A result delivered by the instance thread needs
 * a turn of the event loop (the thread-safe function's callback), which microtasks never give it.
 */
async function settlesWithoutEventLoop(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 4; i++) await null;
  return settled;
}

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

test("a small execution on an idle inline-enabled instance runs inside execute() with timings of the same meaning", async () => {
  const inst = addon.createInstance({ name: "inline_copy", kernel: "copy", device: "cpu", inlineMaxBytes: 64 });
  try {
    const input = bytes(64, 1);
    const output = new Uint8Array(64);
    const before = Number(process.hrtime.bigint());
    const pending = inst.execute({ inputs: [input], outputs: [output] });
    const returned = Number(process.hrtime.bigint());
    assert.deepEqual(output, input, "the copy is done when execute() returns");
    assert.ok(await settlesWithoutEventLoop(pending), "the promise is settled without a turn of the event loop");
    const t = await pending;
    assert.ok(before <= t.startNs && t.startNs <= t.endNs && t.endNs <= returned, `ran within the call: ${JSON.stringify({ before, returned, t })}`);
    assert.ok(t.queueNs >= 0 && t.queueNs <= returned - before, "queueNs is the time from the call to the start");
    assert.ok(t.computeInferNs >= 0 && t.computeInferNs <= t.endNs - t.startNs);

    const sum = addon.createInstance({ name: "inline_add", kernel: "add_sub_i32", device: "cpu", inlineMaxBytes: 1024 });
    try {
      const a = Int32Array.from([5, -7, 2147483647]);
      const b = Int32Array.from([3, 10, 1]);
      const outs = [new Int32Array(3), new Int32Array(3)];
      const p = sum.execute({ inputs: [new Uint8Array(a.buffer), new Uint8Array(b.buffer)], outputs: outs.map((o) => new Uint8Array(o.buffer)) });
      assert.ok(await settlesWithoutEventLoop(p));
      await p;
      assert.deepEqual([...outs[0]!], [8, 3, -2147483648]);
      assert.deepEqual([...outs[1]!], [2, -17, 2147483646]);
    } finally {
      await sum.close();
    }
  } finally {
    await inst.close();
  }
});

test("executions above the limit, without the option, or behind queued work go through the instance thread", async () => {
  const inst = addon.createInstance({ name: "inline_limits", kernel: "copy", device: "cpu", inlineMaxBytes: 64 });
  const plain = addon.createInstance({ name: "no_inline", kernel: "copy", device: "cpu" });
  try {
    // Above the limit (segmented inputs count their parts' total).
    const bigOut = new Uint8Array(65);
    const big = inst.execute({ inputs: [bytes(65, 2)], outputs: [bigOut] });
    assert.equal(await settlesWithoutEventLoop(big), false, "65 bytes > 64: the thread runs it");
    await big;
    assert.deepEqual(bigOut, bytes(65, 2));
    const parts = inst.execute({ inputs: [[bytes(40, 3), bytes(40, 4)]], outputs: [[new Uint8Array(40), new Uint8Array(40)]] });
    assert.equal(await settlesWithoutEventLoop(parts), false, "two parts of 40 bytes count as 80");
    await parts;

    // No option: never inline, however small.
    const small = plain.execute({ inputs: [bytes(4, 5)], outputs: [new Uint8Array(4)] });
    assert.equal(await settlesWithoutEventLoop(small), false);
    await small;

    // Busy: a large job on the thread, then a small one must queue behind it (never overlap, keep order).
    const hugeIn = new Uint8Array(32 << 20).fill(9);
    const first = inst.execute({ inputs: [hugeIn], outputs: [new Uint8Array(32 << 20)] });
    const smallOut = new Uint8Array(8);
    const second = inst.execute({ inputs: [bytes(8, 6)], outputs: [smallOut] });
    assert.equal(await settlesWithoutEventLoop(second), false, "the instance is busy: the small job queues");
    const [t1, t2] = await Promise.all([first, second]);
    assert.ok(t2.startNs >= t1.endNs, "the queued small job started after the big one ended");
    assert.deepEqual(smallOut, bytes(8, 6));

    // Idle again: inline again.
    const again = inst.execute({ inputs: [bytes(8, 7)], outputs: [new Uint8Array(8)] });
    assert.ok(await settlesWithoutEventLoop(again));
    await again;
  } finally {
    await Promise.all([inst.close(), plain.close()]);
  }
  await assert.rejects(inst.execute({ inputs: [bytes(4, 8)], outputs: [new Uint8Array(4)] }), (err: Error & { code?: string }) => err.code === "ERR_IAAS_INSTANCE_CLOSED");
});

test("inlineMaxBytes is refused for kernels with real compute and checked as an integer", () => {
  const layers = makeDenseLayers([4, 2], 3);
  assert.throws(
    () => addon.createInstance({ name: "dense_inline", kernel: "dense_mlp", device: "cpu", layers, inlineMaxBytes: 16 }),
    (err: Error) => err instanceof TypeError && /options\.inlineMaxBytes is only taken by cpu instances of the "copy" and "add_sub_i32" kernels, not cpu "dense_mlp"/.test(err.message),
  );
  // 0 means "never" and is accepted everywhere.
  addon.createInstance({ name: "dense_zero", kernel: "dense_mlp", device: "cpu", layers, inlineMaxBytes: 0 }).close();
  for (const [value, type] of [[-1, RangeError], [1.5, RangeError], [2 ** 25, RangeError], ["16", TypeError]] as const) {
    assert.throws(
      () => addon.createInstance({ name: "bad_inline", kernel: "copy", device: "cpu", inlineMaxBytes: value as number }),
      (err: Error) => err instanceof type && /options\.inlineMaxBytes/.test(err.message),
      `inlineMaxBytes ${String(value)}`,
    );
  }
});

test("only CPU copy and add_sub_i32 instances get an inline limit", () => {
  assert.equal(instanceInlineMaxBytes(4096, "copy", "cpu"), 4096);
  assert.equal(instanceInlineMaxBytes(4096, "add_sub_i32", "cpu"), 4096);
  assert.equal(instanceInlineMaxBytes(4096, "dense_mlp", "cpu"), 0);
  assert.equal(instanceInlineMaxBytes(4096, "copy", "cuda"), 0);
});

/** The real addon, recording the options of every instance the server creates. */
function recordingAddon(): { addon: NativeAddon; created: InstanceOptions[] } {
  const created: InstanceOptions[] = [];
  const wrapped: NativeAddon = {
    backendInfo: () => addon.backendInfo(),
    mapSharedMemory: (key, offset, size) => addon.mapSharedMemory(key, offset, size),
    createInstance(options): NativeInstance {
      created.push(options);
      return addon.createInstance(options);
    },
  };
  return { addon: wrapped, created };
}

test("models run tiny CPU kernels inline by default; execute_inline_max_bytes overrides or turns it off", async () => {
  const repo = tempRepository({
    by_default: identityConfig("by_default", "TYPE_FP32"),
    turned_off: identityConfig("turned_off", "TYPE_FP32", `parameters { key: "${INLINE_EXECUTION_PARAMETER}" value: { string_value: "0" } }`),
    larger: identityConfig("larger", "TYPE_FP32", `parameters { key: "${INLINE_EXECUTION_PARAMETER}" value: { string_value: "65536" } }`),
    dense: `name: "dense"
backend: "dense_mlp"
max_batch_size: 8
input [ { name: "INPUT", data_type: TYPE_FP32, dims: [ 4 ] } ]
output [ { name: "OUTPUT", data_type: TYPE_FP32, dims: [ 2 ] } ]
instance_group [ { kind: KIND_CPU, count: 1 } ]
parameters { key: "layer_sizes" value: { string_value: "4,2" } }
parameters { key: "${INLINE_EXECUTION_PARAMETER}" value: { string_value: "4096" } }`,
    bad_value: identityConfig("bad_value", "TYPE_FP32", `parameters { key: "${INLINE_EXECUTION_PARAMETER}" value: { string_value: "lots" } }`),
  });
  const { addon: spy, created } = recordingAddon();
  const server = new InferenceServer({ modelRepository: repo.dir, addon: spy });
  try {
    const failed = await server.loadAll();
    assert.deepEqual(failed.map((f) => f.name), ["bad_value"]);
    assert.match(failed[0]!.error.message, /bad_value\/config\.pbtxt:\d+: parameter 'execute_inline_max_bytes' must be an integer number of bytes in 0\.\.16777216 .*got "lots"/);
    const byName = new Map(created.map((o) => [o.name.replace(/_\d+_\d+$/, ""), o.inlineMaxBytes]));
    assert.equal(byName.get("by_default"), DEFAULT_INLINE_MAX_BYTES, JSON.stringify([...byName]));
    assert.equal(byName.get("turned_off"), 0);
    assert.equal(byName.get("larger"), 65536);
    assert.equal(byName.get("dense"), 0, "dense_mlp never runs inline");

    // Both paths answer the same and count the same statistics.
    const data = new Float32Array([1.5, -2, 3.25, 0]);
    for (const model of ["by_default", "turned_off"]) {
      for (let i = 0; i < 3; i++) {
        const res = await server.infer({ model, inputs: [{ name: "INPUT0", datatype: "FP32", shape: [4], data: Buffer.from(data.buffer) }] });
        assert.deepEqual(new Float32Array(Uint8Array.from(res.outputs[0]!.data).buffer), data);
      }
      const stats = server.statistics(model)[0]!;
      assert.equal(stats.inference_stats.success.count, 3n);
      assert.equal(stats.inference_stats.compute_infer.count, 3n);
      assert.equal(stats.execution_count, 3n);
    }
  } finally {
    await server.close();
    repo.remove();
  }
});

test("executeInto returns no promise for an inline execution and writes the timings; otherwise it is execute()", async () => {
  const inst = addon.createInstance({ name: "into_copy", kernel: "copy", device: "cpu", inlineMaxBytes: 64 });
  const timings = new Float64Array(6).fill(-1);
  try {
    const input = bytes(16, 9);
    const output = new Uint8Array(16);
    const before = Number(process.hrtime.bigint());
    assert.equal(inst.executeInto({ inputs: [input], outputs: [output] }, timings), undefined);
    const returned = Number(process.hrtime.bigint());
    assert.deepEqual(output, input);
    const [computeInputNs, computeInferNs, computeOutputNs, queueNs, startNs, endNs] = timings;
    assert.ok(computeInputNs! >= 0 && computeInferNs! >= 0 && computeOutputNs! >= 0);
    assert.ok(before <= startNs! && startNs! <= endNs! && endNs! <= returned && queueNs! >= 0 && queueNs! <= startNs! - before + 1);

    // Above the limit: execute()'s promise, timings untouched.
    timings.fill(-1);
    const big = inst.executeInto({ inputs: [bytes(100, 1)], outputs: [new Uint8Array(100)] }, timings);
    assert.ok(big instanceof Promise);
    const t = await big;
    assert.ok(t.endNs >= t.startNs);
    assert.ok(timings.every((v) => v === -1), "the array is only written for inline executions");

    // A malformed request still rejects instead of throwing.
    const bad = inst.executeInto({ inputs: [bytes(4, 1)], outputs: [] }, timings);
    assert.ok(bad instanceof Promise);
    await assert.rejects(bad, (err: Error) => err instanceof RangeError || err instanceof TypeError);
    assert.throws(() => inst.executeInto({ inputs: [input], outputs: [output] }, new Float64Array(5)), TypeError);
    assert.throws(() => inst.executeInto({ inputs: [input], outputs: [output] }, new Float32Array(6) as unknown as Float64Array), TypeError);
  } finally {
    await inst.close();
  }
  const closed = inst.executeInto({ inputs: [bytes(4, 1)], outputs: [new Uint8Array(4)] }, timings);
  await assert.rejects(closed!, (err: Error & { code?: string }) => err.code === "ERR_IAAS_INSTANCE_CLOSED");
});
