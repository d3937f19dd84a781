// CPU dense_mlp instances created with identical layers share one read-only copy of the weights
// (native/dense_weights.h); instances whose weights differ in any bit, or that were created from an array
// changed since, keep their own. Results must be exactly those of unshared instances.
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadNativeAddon } from "../src/native/addon.ts";
import type { NativeInstance } from "../src/native/types.ts";
import { assertClose, bytesOf, denseReference, makeDenseLayers, randomFloats, type DenseLayers } from "./native-fixtures.ts";

const addon = loadNativeAddon();

async function run(instance: NativeInstance, x: Float32Array, batch: number, outFeatures: number): Promise<Float32Array> {
  const y = new Float32Array(batch * outFeatures);
  await instance.execute({ inputs: [bytesOf(x)], outputs: [bytesOf(y)], batch });
  return y;
}

/** A deep copy of `layers` (new arrays), so changing one never changes the other. */
function copyLayers(layers: DenseLayers): DenseLayers {
  return layers.map((l) => ({ ...l, weights: l.weights.slice(), bias: l.bias.slice() }));
}

test("instances with equal weights compute the same; one differing weight or bias is not shared", async () => {
  const dims = [64, 96, 32, 8];
  const layers = makeDenseLayers(dims, 11);
  const batch = 5;
  const x = randomFloats(batch * dims[0]!, 3);
  // One weight of the last layer changes: the one reading the hidden unit most active for row 0, so that
  // the change shows in the outputs (ReLU could hide a change behind a zero activation).
  const hidden = denseReference(layers.slice(0, -1), x, batch).subarray(0, dims[2]!);
  const k = hidden.indexOf(Math.max(...hidden));
  assert.ok(hidden[k]! > 0, "some hidden unit is active for row 0");
  const otherWeight = copyLayers(layers);
  otherWeight[2]!.weights[k]! += 0.5; // output 0, input k
  const otherBias = copyLayers(layers);
  otherBias[2]!.bias[0]! -= 0.25;
  const make = (name: string, l: DenseLayers) => addon.createInstance({ name, kernel: "dense_mlp", device: "cpu", layers: l });
  const instances = [make("shared_a", layers), make("shared_b", copyLayers(layers)), make("own_weight", otherWeight), make("own_bias", otherBias)];
  try {
    const [a, b, w, bi] = await Promise.all(instances.map((i) => run(i, x, batch, 8)));
    assert.deepEqual(b, a, "a second instance with equal weights computes bit-identical outputs");
    assertClose(a!, denseReference(layers, x, batch), "shared weights");
    assertClose(w!, denseReference(otherWeight, x, batch), "instance with one weight changed");
    assertClose(bi!, denseReference(otherBias, x, batch), "instance with one bias changed");
    assert.notDeepEqual(w, a, "the changed weight shows in the outputs");
    assert.notDeepEqual(bi, a, "the changed bias shows in the outputs");
  } finally {
    await Promise.all(instances.map((i) => i.close()));
  }
});

test("weights are copied at creation: changing the caller's array later affects neither instance nor sharing", async () => {
  const dims = [32, 48, 4];
  const layers = makeDenseLayers(dims, 5);
  const original = copyLayers(layers);
  const batch = 3;
  const x = randomFloats(batch * dims[0]!, 9);
  const first = addon.createInstance({ name: "copied_first", kernel: "dense_mlp", device: "cpu", layers });
  for (const l of layers) l.weights.fill(0.125); // same array objects, other contents
  const second = addon.createInstance({ name: "copied_second", kernel: "dense_mlp", device: "cpu", layers });
  try {
    assertClose(await run(first, x, batch, 4), denseReference(original, x, batch), "instance created before the change");
    assertClose(await run(second, x, batch, 4), denseReference(layers, x, batch), "instance created after the change");
  } finally {
    await Promise.all([first.close(), second.close()]);
  }
});

test("a second instance with the same large weights adds no second copy of them", async () => {
  // 64 MiB of weights: above glibc's largest mmap threshold, so each copy is its own mapping and shows in
  // the resident set at once (and leaves it when freed).
  const layers: DenseLayers = [{ inFeatures: 4096, outFeatures: 4096, weights: randomFloats(4096 * 4096, 21), bias: randomFloats(4096, 22) }];
  const copyBytes = 4096 * 4096 * 4;
  const rss = () => process.memoryUsage().rss;
  const first = addon.createInstance({ name: "big_a", kernel: "dense_mlp", device: "cpu", layers });
  let second: NativeInstance | undefined;
  try {
    const before = rss();
    second = addon.createInstance({ name: "big_b", kernel: "dense_mlp", device: "cpu", layers });
    const grew = rss() - before;
    assert.ok(grew < copyBytes / 2, `the second instance grew the resident set by ${grew} bytes; a copy of its own is ${copyBytes}`);
    // Both still compute with the weights (one row is enough to touch every weight).
    const x = randomFloats(4096, 23);
    const [ya, yb] = await Promise.all([run(first, x, 1, 4096), run(second, x, 1, 4096)]);
    assert.deepEqual(yb, ya);
    assertClose(ya.subarray(0, 64), denseReference([{ ...layers[0]!, outFeatures: 64, weights: layers[0]!.weights.subarray(0, 64 * 4096), bias: layers[0]!.bias.subarray(0, 64) }], x, 1), "first 64 outputs");
  } finally {
    await Promise.all([first.close(), second?.close()]);
  }
});
