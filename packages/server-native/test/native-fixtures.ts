// Shared inputs and float64 references for the native addon tests (not a test file itself).
import assert from "node:assert/strict";
import type { InstanceOptions } from "../src/native/types.ts";

export type DenseLayers = NonNullable<InstanceOptions["layers"]>;

/** Deterministic uniform floats in [-1, 1) (mulberry32), so failures reproduce. */
export function randomFloats(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** Layers with weights scaled by 1/sqrt(in) so activations stay O(1) through deep stacks. */
export function makeDenseLayers(dims: number[], seed: number): DenseLayers {
  const layers: DenseLayers = [];
  for (let i = 0; i + 1 < dims.length; i++) {
    const inFeatures = dims[i]!;
    const outFeatures = dims[i + 1]!;
    const weights = randomFloats(inFeatures * outFeatures, seed * 100 + i);
    const scale = 1 / Math.sqrt(inFeatures);
    for (let k = 0; k < weights.length; k++) weights[k]! *= scale;
    layers.push({ inFeatures, outFeatures, weights, bias: randomFloats(outFeatures, seed * 100 + 50 + i) });
  }
  return layers;
}

/** y = W x + b per layer, ReLU on hidden layers, in float64. */
export function denseReference(layers: DenseLayers, x: Float32Array, batch: number): Float64Array {
  let current: ArrayLike<number> = x;
  for (let li = 0; li < layers.length; li++) {
    const { inFeatures, outFeatures, weights, bias } = layers[li]!;
    const next = new Float64Array(batch * outFeatures);
    for (let b = 0; b < batch; b++) {
      for (let o = 0; o < outFeatures; o++) {
        let sum = bias[o]!;
        const wOff = o * inFeatures;
        const xOff = b * inFeatures;
        for (let i = 0; i < inFeatures; i++) sum += weights[wOff + i]! * current[xOff + i]!;
        next[b * outFeatures + o] = li + 1 < layers.length ? Math.max(0, sum) : sum;
      }
    }
    current = next;
  }
  return current as Float64Array;
}

export function assertClose(actual: Float32Array, expected: Float64Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const tolerance = 1e-4 + 1e-4 * Math.abs(expected[i]!);
    if (!(Math.abs(actual[i]! - expected[i]!) <= tolerance)) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (tolerance ${tolerance})`);
    }
  }
}

export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** A Float32Array whose bytes start `misalign` bytes past a 4-byte boundary, viewed as raw bytes. */
export function unalignedCopy(values: Float32Array, misalign: number): Uint8Array {
  const backing = new Uint8Array(values.byteLength + misalign);
  const view = backing.subarray(misalign);
  view.set(bytesOf(values));
  return view;
}

export function readUnalignedFloats(bytes: Uint8Array): Float32Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}
