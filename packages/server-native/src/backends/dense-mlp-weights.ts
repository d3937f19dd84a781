// Deterministic weights for the dense_mlp backend, generated from a seed so every run (and every test
// computing a reference in TypeScript) gets the same network without shipping weight files.

import { seededRandom } from "@iaas/client/protocol";

export interface DenseLayer {
  inFeatures: number;
  outFeatures: number;
  /** Row-major [outFeatures, inFeatures]. */
  weights: Float32Array;
  bias: Float32Array;
}

/**
 * Layers for sizes [in, hidden..., out]: weights and biases uniform in +-1/sqrt(in) (PyTorch's nn.Linear
 * default range), which keeps activations of a deep ReLU stack in a sane range.
 */
export function generateDenseLayers(sizes: readonly number[], seed: number): DenseLayer[] {
  const layers: DenseLayer[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inFeatures = sizes[l]!;
    const outFeatures = sizes[l + 1]!;
    const rand = seededRandom(seed * 1000003 + l);
    const bound = 1 / Math.sqrt(inFeatures);
    const weights = new Float32Array(inFeatures * outFeatures);
    for (let i = 0; i < weights.length; i++) weights[i] = (rand() * 2 - 1) * bound;
    const bias = new Float32Array(outFeatures);
    for (let i = 0; i < bias.length; i++) bias[i] = (rand() * 2 - 1) * bound;
    layers.push({ inFeatures, outFeatures, weights, bias });
  }
  return layers;
}

/** Reference forward pass in TypeScript (ReLU between layers, linear last layer), for tests. */
export function denseForward(layers: readonly DenseLayer[], x: Float32Array, batch: number): Float32Array {
  let cur = x;
  layers.forEach((layer, l) => {
    const next = new Float32Array(batch * layer.outFeatures);
    for (let b = 0; b < batch; b++) {
      for (let o = 0; o < layer.outFeatures; o++) {
        let acc = layer.bias[o]!;
        const row = o * layer.inFeatures;
        for (let i = 0; i < layer.inFeatures; i++) acc += layer.weights[row + i]! * cur[b * layer.inFeatures + i]!;
        next[b * layer.outFeatures + o] = l + 1 < layers.length && acc < 0 ? 0 : acc;
      }
    }
    cur = next;
  });
  return cur;
}
