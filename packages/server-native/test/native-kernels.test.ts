// Kernel results against JS references, on CPU always and on CUDA when a GPU is usable here.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadNativeAddon } from "../src/native/addon.ts";
import type { DeviceKind, NativeInstance } from "../src/native/types.ts";
import {
  assertClose,
  bytesOf,
  denseReference,
  makeDenseLayers,
  randomFloats,
  readUnalignedFloats,
  unalignedCopy,
} from "./native-fixtures.ts";

const addon = loadNativeAddon();
const info = addon.backendInfo();

async function withInstance<T>(instance: NativeInstance, body: (i: NativeInstance) => Promise<T>): Promise<T> {
  try {
    return await body(instance);
  } finally {
    await instance.close();
  }
}

for (const device of ["cpu", "cuda"] as DeviceKind[]) {
  const skip = info.available.includes(device)
    ? false
    : `no usable CUDA device here (${info.cudaUnavailableReason ?? "unknown reason"})`;

  describe(`${device} kernels`, { skip }, () => {
    test("add_sub_i32 wraps around like int32 arithmetic", async () => {
      const a = new Int32Array([0, 1, -1, 2147483647, -2147483648, 2147483647, -2147483648, 123456789, -7, 0x40000000]);
      const b = new Int32Array([0, 2, -1, 1, -1, -1, 1, 987654321, 3, 0x40000000]);
      // Longer random tail so vectorised loop bodies, not only their scalar tails, are exercised.
      const n = a.length + 1000;
      const aa = new Int32Array(n);
      const bb = new Int32Array(n);
      aa.set(a);
      bb.set(b);
      const r = randomFloats(2 * 1000, 7);
      for (let i = 0; i < 1000; i++) {
        aa[a.length + i] = Math.floor(r[i]! * 2147483647);
        bb[a.length + i] = Math.floor(r[1000 + i]! * 2147483647);
      }
      const sum = new Int32Array(n);
      const diff = new Int32Array(n);
      await withInstance(addon.createInstance({ name: `add_sub_${device}`, kernel: "add_sub_i32", device }), async (inst) => {
        await inst.execute({ inputs: [bytesOf(aa), bytesOf(bb)], outputs: [bytesOf(sum), bytesOf(diff)] });
      });
      for (let i = 0; i < n; i++) {
        assert.equal(sum[i], (aa[i]! + bb[i]!) | 0, `sum[${i}] of ${aa[i]} + ${bb[i]}`);
        assert.equal(diff[i], (aa[i]! - bb[i]!) | 0, `diff[${i}] of ${aa[i]} - ${bb[i]}`);
      }
      assert.equal(sum[3], -2147483648, "INT32_MAX + 1 wraps to INT32_MIN");
      assert.equal(sum[4], 2147483647, "INT32_MIN + (-1) wraps to INT32_MAX");
      assert.equal(diff[5], -2147483648, "INT32_MAX - (-1) wraps to INT32_MIN");
      assert.equal(diff[6], 2147483647, "INT32_MIN - 1 wraps to INT32_MAX");
    });

    test("add_sub_i32 accepts buffers that are not 4-byte aligned", async () => {
      const a = new Int32Array([5, -6, 2147483647]);
      const b = new Int32Array([1, 2, 3]);
      const ua = unalignedCopy(new Float32Array(a.buffer), 1);
      const ub = unalignedCopy(new Float32Array(b.buffer), 3);
      const out0 = new Uint8Array(13).subarray(1);
      const out1 = new Uint8Array(14).subarray(2);
      await withInstance(addon.createInstance({ name: `add_sub_u_${device}`, kernel: "add_sub_i32", device }), (inst) =>
        inst.execute({ inputs: [ua, ub], outputs: [out0, out1] }),
      );
      const view0 = new DataView(out0.buffer, out0.byteOffset, 12);
      const view1 = new DataView(out1.buffer, out1.byteOffset, 12);
      assert.deepEqual([0, 1, 2].map((i) => view0.getInt32(i * 4, true)), [6, -4, -2147483646]);
      assert.deepEqual([0, 1, 2].map((i) => view1.getInt32(i * 4, true)), [4, -8, 2147483644]);
    });

    test("copy moves every input to its output, odd and empty lengths included", async () => {
      const lengths = [1, 7, 0, 4097, 33];
      const inputs = lengths.map((len, k) => {
        const bytes = new Uint8Array(len);
        for (let i = 0; i < len; i++) bytes[i] = (i * 31 + k * 7 + 1) & 0xff;
        return bytes;
      });
      const outputs = lengths.map((len) => new Uint8Array(len));
      await withInstance(addon.createInstance({ name: `copy_${device}`, kernel: "copy", device }), (inst) =>
        inst.execute({ inputs, outputs }),
      );
      outputs.forEach((out, k) => assert.deepEqual(out, inputs[k], `output ${k} (${lengths[k]} bytes)`));
    });

    test("dense_mlp matches a float64 reference for several batch sizes", async () => {
      // Odd widths hit the kernels' remainder paths (not multiples of 8, 4 or the CUDA tile).
      const layers = makeDenseLayers([37, 64, 48, 5], 1);
      await withInstance(addon.createInstance({ name: `dense_odd_${device}`, kernel: "dense_mlp", device, layers }), async (inst) => {
        for (const batch of [1, 2, 3, 4, 5, 8, 9, 17, 33]) {
          const x = randomFloats(batch * 37, 1000 + batch);
          const y = new Float32Array(batch * 5);
          await inst.execute({ inputs: [bytesOf(x)], outputs: [bytesOf(y)], batch });
          assertClose(y, denseReference(layers, x, batch), `batch ${batch}`);
        }
      });
    });

    test("dense_mlp with the benchmark shape 256->1024->1024->16", async () => {
      const layers = makeDenseLayers([256, 1024, 1024, 16], 2);
      await withInstance(addon.createInstance({ name: `dense_big_${device}`, kernel: "dense_mlp", device, layers }), async (inst) => {
        for (const batch of [1, 8, 20]) {
          const x = randomFloats(batch * 256, 2000 + batch);
          const y = new Float32Array(batch * 16);
          const timings = await inst.execute({ inputs: [bytesOf(x)], outputs: [bytesOf(y)], batch });
          assert.ok(timings.computeInferNs > 0, "infer phase is timed");
          assertClose(y, denseReference(layers, x, batch), `batch ${batch}`);
        }
      });
    });

    test("dense_mlp reads and writes buffers that are not 4-byte aligned", async () => {
      const layers = makeDenseLayers([16, 8, 3], 3);
      const batch = 3;
      const x = randomFloats(batch * 16, 3000);
      const input = unalignedCopy(x, 1);
      const output = new Uint8Array(batch * 3 * 4 + 2).subarray(2);
      await withInstance(addon.createInstance({ name: `dense_unaligned_${device}`, kernel: "dense_mlp", device, layers }), (inst) =>
        inst.execute({ inputs: [input], outputs: [output], batch }),
      );
      assertClose(readUnalignedFloats(output), denseReference(layers, x, batch), "unaligned");
    });
  });
}

test("the portable (non-AVX2) CPU dense kernel matches the reference too", () => {
  // The ISA is chosen once per process, so the generic variant runs in a child with IAAS_CPU_ISA=generic.
  const addonUrl = new URL("../src/native/addon.ts", import.meta.url).href;
  const fixturesUrl = new URL("./native-fixtures.ts", import.meta.url).href;
  const script = `
    import { loadNativeAddon } from ${JSON.stringify(addonUrl)};
    import { makeDenseLayers, randomFloats, denseReference, bytesOf } from ${JSON.stringify(fixturesUrl)};
    const addon = loadNativeAddon();
    const layers = makeDenseLayers([37, 64, 48, 5], 4);
    const inst = addon.createInstance({ name: "dense_generic", kernel: "dense_mlp", device: "cpu", layers });
    let worst = 0;
    for (const batch of [1, 3, 4, 9]) {
      const x = randomFloats(batch * 37, 4000 + batch);
      const y = new Float32Array(batch * 5);
      await inst.execute({ inputs: [bytesOf(x)], outputs: [bytesOf(y)], batch });
      const ref = denseReference(layers, x, batch);
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(y[i] - ref[i]) / (1 + Math.abs(ref[i])));
    }
    await inst.close();
    console.log(JSON.stringify({ isa: addon.backendInfo().cpuIsa, worst }));
  `;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, IAAS_CPU_ISA: "generic" },
    encoding: "utf8",
    cwd: fileURLToPath(new URL(".", import.meta.url)),
  });
  assert.equal(child.status, 0, child.stderr);
  const result = JSON.parse(child.stdout.trim().split("\n").pop()!) as { isa: string; worst: number };
  assert.equal(result.isa, "generic");
  assert.ok(result.worst < 1e-4, `largest relative error ${result.worst}`);
});
