// The gRPC infer fast paths for repeated calls: request messages written from a kept prefix
// (infer-request-layout.ts) must be byte-identical to the general codec's and follow every change of
// model, version, id, input names, datatypes, shapes and sizes; answers cut by a kept layout
// (infer-answer-layout.ts) must equal the full parse, and anything that differs from the layout must go
// to the full parse (same results, same errors). Tensors over raw bytes made lazily (rawTensor) behave
// as fromRaw's.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InferenceError } from "../src/errors.ts";
import { Tensor, rawTensor } from "../src/tensor.ts";
import type { InferRequest, InferResponse, OutputRequest } from "../src/transport/transport.ts";
import { encodeInferRequest } from "../src/transport/grpc/infer-codec.ts";
import { InferRequestLayouts } from "../src/transport/grpc/infer-request-layout.ts";
import { InferAnswerLayouts, decodeModelInferAnswer } from "../src/transport/grpc/infer-answer-layout.ts";
import { modelInferCodec } from "../src/transport/grpc/service.ts";

function request(model: string, inputs: Tensor[], extra: Partial<InferRequest> = {}): InferRequest {
  return { model, inputs, binaryInputs: true, binaryOutputs: true, ...extra };
}

const general = (req: InferRequest): Buffer => Buffer.concat(modelInferCodec().serialize(encodeInferRequest(req)));

function viaLayouts(layouts: InferRequestLayouts, req: InferRequest): Buffer | undefined {
  const chunks = layouts.message(req);
  return chunks === undefined ? undefined : Buffer.concat(chunks);
}

const int32 = (name: string, shape: number[], fill: number) => new Tensor(name, "INT32", shape, new Int32Array(shape.reduce((a, b) => a * b, 1)).fill(fill));

describe("request layouts", () => {
  test("repeated and changed requests encode exactly as the general codec", () => {
    const layouts = new InferRequestLayouts();
    const a = int32("INPUT0", [1, 16], 3);
    const b = int32("INPUT1", [1, 16], 1);
    const cases: InferRequest[] = [
      request("simple", [a, b]),
      request("simple", [a, b]),
      request("simple", [int32("INPUT0", [1, 16], 9), int32("INPUT1", [1, 16], 8)]),
      request("simple", [a, b], { version: "2" }),
      request("simple", [a, b], { id: "x-1" }),
      request("simple", [a, b], { id: "x-2" }),
      request("simple", [b, a]),
      request("simple", [a]),
      request("simple", [int32("INPUT0", [2, 8], 3), b]),
      request("simple", [int32("INPUT0", [16], 3), b]),
      request("simple", [new Tensor("INPUT0", "FP32", [1, 16], new Float32Array(16).fill(0.5)), b]),
      request("other", [a, b]),
      request("simple", [a, b]),
      request("empty", []),
      request("bytes", [new Tensor("T", "BYTES", [2], ["ab", "c"])]),
      request("bytes", [new Tensor("T", "BYTES", [2], ["abcdef", "c"])]),
    ];
    for (const [i, req] of cases.entries()) {
      const fast = viaLayouts(layouts, req);
      assert.ok(fast !== undefined, `case ${i} took the general codec`);
      assert.deepEqual(fast, general(req), `case ${i}`);
    }
    assert.equal(layouts.size, 4);
  });

  test("a shape changed in place and data changed in place are seen", () => {
    const layouts = new InferRequestLayouts();
    const shape = [1, 16];
    const data = new Int32Array(16).fill(1);
    const t = new Tensor("INPUT0", "INT32", shape, data);
    const first = viaLayouts(layouts, request("m", [t]))!;
    data.fill(7);
    const second = viaLayouts(layouts, request("m", [t]))!;
    assert.notDeepEqual(second, first);
    assert.deepEqual(second, general(request("m", [t])));
    // Tensor keeps the caller's shape array; a caller who rewrites it gets the new dimensions on the wire.
    shape[0] = 16;
    shape[1] = 1;
    assert.deepEqual(viaLayouts(layouts, request("m", [t])), general(request("m", [t])));
    assert.notDeepEqual(viaLayouts(layouts, request("m", [t])), first);
  });

  test("parameters, requested outputs, shared-memory inputs and large requests take the general codec", () => {
    const layouts = new InferRequestLayouts();
    const a = int32("INPUT0", [1, 16], 3);
    assert.equal(layouts.message(request("m", [a], { parameters: { priority: 1 } })), undefined);
    const outputs: OutputRequest[] = [{ name: "OUTPUT0", binary: true }];
    assert.equal(layouts.message(request("m", [a], { outputs })), undefined);
    const shm = Tensor.fromSharedMemory("INPUT0", "INT32", [1, 16], { region: "r" });
    assert.equal(layouts.message(request("m", [shm])), undefined);
    const big = new Tensor("INPUT0", "FP32", [8192], new Float32Array(8192));
    assert.equal(layouts.message(request("m", [big])), undefined);
    assert.equal(layouts.size, 0);
  });

  test("raw tensor bytes are views of the inputs (no copy before the HTTP/2 layer)", () => {
    const layouts = new InferRequestLayouts();
    const a = int32("INPUT0", [4], 3);
    const chunks = layouts.message(request("m", [a]))!;
    assert.equal(chunks.length, 2);
    assert.equal(chunks[1]!.buffer, (a.data as Int32Array).buffer);
  });
});

// --- ModelInferResponse bytes, written by hand (field numbers of grpc_service.proto).

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function field(no: number, body: Uint8Array | string): Buffer {
  const b = typeof body === "string" ? Buffer.from(body) : Buffer.from(body);
  return Buffer.concat([Buffer.from([(no << 3) | 2, ...varint(b.length)]), b]);
}

function outputMeta(name: string, datatype: string, shape: number[], params?: Buffer): Buffer {
  const parts = [field(1, name), field(2, datatype), field(3, Buffer.from(shape.flatMap(varint)))];
  if (params) parts.push(params);
  return field(5, Buffer.concat(parts));
}

/** A string parameter entry (map<string, InferParameter>) under `no`. */
function stringParam(no: number, key: string, value: string): Buffer {
  return field(no, Buffer.concat([field(1, key), field(2, field(3, value))]));
}

interface AnswerSpec {
  model?: string;
  version?: string;
  id?: string;
  outputs: { name: string; datatype: string; shape: number[]; raw: Uint8Array; params?: Buffer }[];
  params?: Buffer;
  trailing?: Buffer;
}

function answer(spec: AnswerSpec): Buffer {
  const parts: Buffer[] = [field(1, spec.model ?? "simple"), field(2, spec.version ?? "1")];
  if (spec.id) parts.push(field(3, spec.id));
  if (spec.params) parts.push(spec.params);
  for (const o of spec.outputs) parts.push(outputMeta(o.name, o.datatype, o.shape, o.params));
  for (const o of spec.outputs) parts.push(field(6, o.raw));
  if (spec.trailing) parts.push(spec.trailing);
  return Buffer.concat(parts);
}

const i32 = (...v: number[]) => new Uint8Array(Int32Array.from(v).buffer);

function plain(r: InferResponse) {
  return {
    modelName: r.modelName,
    modelVersion: r.modelVersion,
    id: r.id,
    parameters: r.parameters,
    outputs: r.outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: [...t.shape], data: Array.from(t.data as Int32Array), byteSize: t.byteSize, raw: Array.from(t.toRaw()) })),
  };
}

/** Decodes through the layouts and through the full parse; both must agree (or fail alike). */
function same(layouts: InferAnswerLayouts, bytes: Buffer, requested?: OutputRequest[]): InferResponse {
  let full: InferResponse | undefined;
  let fullError: unknown;
  try {
    full = decodeModelInferAnswer(bytes, requested);
  } catch (e) {
    fullError = e;
  }
  if (fullError !== undefined) {
    assert.throws(() => layouts.decode(bytes, requested), (e: unknown) => {
      assert.ok(e instanceof InferenceError);
      assert.equal(e.message, (fullError as Error).message);
      return true;
    });
    return undefined as unknown as InferResponse;
  }
  const fast = layouts.decode(bytes, requested);
  assert.deepEqual(plain(fast), plain(full!));
  return fast;
}

describe("answer layouts", () => {
  const base: AnswerSpec = {
    outputs: [
      { name: "OUTPUT0", datatype: "INT32", shape: [1, 4], raw: i32(1, 2, 3, 4) },
      { name: "OUTPUT1", datatype: "INT32", shape: [1, 4], raw: i32(-1, 0, 1, 2) },
    ],
  };

  test("a repeated answer is cut by the kept layout with the full parse's results", () => {
    const layouts = new InferAnswerLayouts();
    same(layouts, answer(base));
    assert.equal(layouts.size, 1);
    const again = answer({ outputs: base.outputs.map((o) => ({ ...o, raw: i32(9, 8, 7, 6) })) });
    const r = same(layouts, again);
    assert.equal(layouts.size, 1);
    assert.deepEqual(Array.from(r.outputs[1]!.data as Int32Array), [9, 8, 7, 6]);
    // Each answer owns its shapes and parameters.
    const r2 = layouts.decode(again, undefined);
    assert.notEqual(r2.outputs[0]!.shape, r.outputs[0]!.shape);
    assert.notEqual(r2.parameters, r.parameters);
  });

  test("answers that differ from the layout take the full parse", () => {
    const layouts = new InferAnswerLayouts();
    same(layouts, answer(base));
    // Other shape, other name, other model, an id: new layouts.
    same(layouts, answer({ outputs: [{ ...base.outputs[0]!, shape: [2, 2] }, base.outputs[1]!] }));
    same(layouts, answer({ outputs: [{ ...base.outputs[0]!, name: "OUT" }, base.outputs[1]!] }));
    same(layouts, answer({ ...base, model: "other" }));
    same(layouts, answer({ ...base, id: "req-7" }));
    assert.equal(layouts.size, 5);
    // The kept metadata with a raw entry of the wrong length: the full parse's error.
    same(layouts, answer({ outputs: [{ ...base.outputs[0]!, raw: i32(1, 2, 3) }, base.outputs[1]!] }));
    // A field after the raw entries: full parse (which skips it).
    same(layouts, answer({ ...base, trailing: field(9, "x") }));
    // One raw entry missing: full parse (its error).
    const whole = answer(base);
    same(layouts, whole.subarray(0, whole.length - 18));
  });

  test("answers with parameters are decoded but not kept; shared-memory requests always take the full parse", () => {
    const layouts = new InferAnswerLayouts();
    const r = same(layouts, answer({ ...base, params: stringParam(4, "note", "hi") }));
    assert.deepEqual(r.parameters, { note: "hi" });
    same(layouts, answer({ outputs: [{ ...base.outputs[0]!, params: stringParam(4, "note", "x") }, base.outputs[1]!] }));
    assert.equal(layouts.size, 0);
    same(layouts, answer(base));
    assert.equal(layouts.size, 1);
    // OUTPUT0 requested into a region: Triton names it only by an empty raw entry.
    const requested: OutputRequest[] = [{ name: "OUTPUT0", binary: true, sharedMemory: { region: "r", offset: 0, byteSize: 16 } }];
    const inRegion = answer({ outputs: [{ ...base.outputs[0]!, raw: new Uint8Array(0) }, base.outputs[1]!] });
    const d = layouts.decode(inRegion, requested);
    assert.equal(d.outputs[0]!.sharedMemory?.region, "r");
    assert.deepEqual(Array.from(d.outputs[1]!.data as Int32Array), [-1, 0, 1, 2]);
  });

  test("outputs at any alignment read the same values; unaligned ones are copied when first read", () => {
    const layouts = new InferAnswerLayouts();
    const bytes = answer(base);
    for (let shift = 0; shift < 8; shift++) {
      const store = Buffer.alloc(bytes.length + shift);
      bytes.copy(store, shift);
      const r = same(layouts, store.subarray(shift));
      const d = r.outputs[0]!.data as Int32Array;
      assert.deepEqual(Array.from(d), [1, 2, 3, 4]);
      assert.equal(d.byteOffset % 4, 0);
    }
    assert.equal(layouts.size, 1);
  });
});

describe("rawTensor and fromRaw", () => {
  test("rawTensor gives the data, size, byteSize and raw bytes fromRaw gives", () => {
    const raw = new Uint8Array(new Float64Array([1.5, -2]).buffer);
    const lazy = rawTensor("x", "FP64", [2], raw);
    const eager = Tensor.fromRaw("x", "FP64", [2], raw);
    assert.equal(lazy.size, 2);
    assert.equal(lazy.byteSize, 16);
    assert.equal(lazy.toRaw(), raw);
    assert.deepEqual(Array.from(lazy.data as Float64Array), [1.5, -2]);
    assert.equal((lazy.data as Float64Array).buffer, raw.buffer, "an aligned view, not a copy");
    assert.equal(lazy.data, lazy.data, "made once");
    assert.deepEqual(Array.from(lazy.toRaw()), Array.from(raw), "raw bytes after data was read");
    assert.equal(lazy.byteSize, 16);
    assert.deepEqual(lazy.toJSONData(), eager.toJSONData());
    const unaligned = new Uint8Array(17);
    unaligned.set(raw, 1);
    const moved = rawTensor("x", "FP64", [2], unaligned.subarray(1));
    assert.deepEqual(Array.from(moved.data as Float64Array), [1.5, -2]);
    assert.notEqual((moved.data as Float64Array).buffer, unaligned.buffer);
    assert.deepEqual(Array.from(moved.toRaw()), Array.from(raw));
  });

  test("unaligned copies (shared slabs for small ones) never overlap and keep their values", () => {
    const made: { t: Tensor; want: number[] }[] = [];
    for (let i = 0; i < 600; i++) {
      // Sizes 1..40 elements, then some beyond the slab's copy limit; every one at an odd offset.
      const n = i % 50 === 49 ? 300 + i : 1 + (i % 40);
      const want = Array.from({ length: n }, (_, k) => i * 1000 + k);
      const store = new Uint8Array(n * 8 + 3);
      store.set(new Uint8Array(new Float64Array(want).buffer), 3);
      const raw = store.subarray(3, 3 + n * 8);
      const t = i % 2 === 0 ? rawTensor("x", "FP64", [n], raw) : Tensor.fromRaw("x", "FP64", [n], raw);
      assert.equal((t.data as Float64Array).byteOffset % 8, 0);
      store.fill(0);
      made.push({ t, want });
    }
    for (const { t, want } of made) assert.deepEqual(Array.from(t.data as Float64Array), want);
  });

  test("fromRaw still checks its arguments (single pass)", () => {
    assert.throws(() => Tensor.fromRaw("", "INT32", [1], new Uint8Array(4)), /non-empty string/);
    assert.throws(() => Tensor.fromRaw("x", "INT33" as "INT32", [1], new Uint8Array(4)), /unknown datatype/);
    assert.throws(() => Tensor.fromRaw("x", "INT32", [2], new Uint8Array(4)), /needs 8/);
    assert.throws(() => Tensor.fromRaw("x", "INT32", [-1], new Uint8Array(4)), InferenceError);
    // The constructor's own checks are unaffected by fromRaw's trusted construction.
    Tensor.fromRaw("x", "INT32", [1], new Uint8Array(4));
    assert.throws(() => new Tensor("x", "INT32", [2], new Int32Array(1)), /needs 2/);
  });

  test("toRaw is a view of the data (no copy), which shows later writes to it", () => {
    const data = new Int32Array([1, 2]);
    const t = new Tensor("x", "INT32", [2], data);
    const raw = t.toRaw();
    assert.equal(raw.buffer, data.buffer);
    data[0] = 5;
    assert.equal(new Int32Array(raw.buffer, raw.byteOffset, 2)[0], 5);
  });
});
