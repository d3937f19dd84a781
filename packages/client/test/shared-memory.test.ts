// System shared memory in the client: the POSIX region helper (@iaas/client/shm) on real /dev/shm objects,
// data-less tensors (Tensor.fromSharedMemory and outputs in a region), how both codecs put tensors in
// shared memory on the wire and read them back (this server's answers and Triton's), and that the client
// works without the addon. End-to-end calls against the reference server are in test/shared-memory-e2e.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as protoLoader from "@grpc/proto-loader";
import { InferenceError } from "../src/errors.ts";
import { Tensor } from "../src/tensor.ts";
import { createSharedMemoryRegion, openSharedMemoryRegion, unlinkSharedMemory } from "../src/shm/index.ts";
import * as httpCodec from "../src/transport/http/infer-codec.ts";
import * as grpcCodec from "../src/transport/grpc/infer-codec.ts";
import { LOADER_OPTIONS } from "../src/transport/grpc/service.ts";
import type { InferRequest } from "../src/transport/transport.ts";

const PREFIX = `iaas_clishm_${process.pid}_`;
const key = (tag: string): string => `/${PREFIX}${tag}`;
const leftovers = (): string[] => readdirSync("/dev/shm").filter((f) => f.startsWith(PREFIX));
const isCode = (code: string, message?: RegExp) => (e: unknown) =>
  e instanceof InferenceError && e.code === code && (message === undefined || message.test(e.message));

function request(over: Partial<InferRequest>): InferRequest {
  return { model: "m", inputs: [], binaryInputs: true, binaryOutputs: true, ...over };
}

test("a region: create, write tensors, read zero-copy views, close, unlink", () => {
  const r = createSharedMemoryRegion(key("basic"), 4096);
  try {
    assert.equal(r.byteSize, 4096);
    assert.equal(r.buffer.byteLength, 4096);
    assert.ok(r.buffer.every((b) => b === 0), "a new object is zero-filled");
    assert.equal(readFileSync(`/dev/shm${r.key}`).byteLength, 4096, "the object exists under /dev/shm");

    assert.equal(r.write(new Tensor("x", "INT32", [2, 2], Int32Array.of(1, -2, 3, -4)), 64), 16);
    const t = r.read("INT32", [2, 2], 64, "x");
    assert.deepEqual(Array.from(t.data), [1, -2, 3, -4]);
    // Aligned numeric reads are views of the mapping: later writes show through.
    r.write(Int32Array.of(99), 64);
    assert.equal(t.data[0], 99);
    // The same memory through the file system: writes really reach the shared object.
    assert.equal(readFileSync(`/dev/shm${r.key}`).readInt32LE(64), 99);

    r.write(new Tensor("s", "BYTES", [2], ["héllo", ""]), 1001);
    assert.deepEqual(r.read("BYTES", [2], 1001).strings(), ["héllo", ""]);
    const unaligned = r.read("FP32", [1], 1);
    assert.equal(unaligned.data.length, 1, "unaligned data is copied, not refused");

    assert.throws(() => r.read("FP64", [10], 4090), isCode("out_of_range", /80 bytes at offset 4090 run past the end of shared memory region ".*" \(4096 bytes\)/));
    assert.throws(() => r.write(new Uint8Array(10), 4090), isCode("out_of_range"));
    assert.throws(() => r.read("INT32", [1], -1), isCode("invalid_argument", /offset must be a non-negative integer/));
    r.buffer.writeUInt32LE(5000, 0);
    assert.throws(() => r.read("BYTES", [1], 0), isCode("out_of_range", /BYTES element 0/));

    r.close();
    r.close();
    assert.equal(r.closed, true);
    assert.equal(t.data.length, 0, "views of a closed region are empty, not dangling");
    assert.throws(() => r.buffer, isCode("failed_precondition", /is closed/));
  } finally {
    r.close();
    assert.equal(r.unlink(), true);
  }
  assert.equal(unlinkSharedMemory(r.key), false, "already gone");
  assert.deepEqual(leftovers(), []);
});

test("create is exclusive by default; open maps an existing object whole; bad arguments are refused", () => {
  const a = createSharedMemoryRegion(key("excl"), 100);
  try {
    assert.throws(() => createSharedMemoryRegion(key("excl"), 100), isCode("already_exists", /cannot create shared memory object/));
    a.write(Uint8Array.of(7, 8, 9), 10);
    const b = openSharedMemoryRegion(key("excl"));
    assert.equal(b.byteSize, 100);
    assert.deepEqual(Array.from(b.buffer.subarray(10, 13)), [7, 8, 9], "two mappings of one object see the same bytes");
    b.buffer[50] = 1;
    assert.equal(a.buffer[50], 1);
    b.close();
    const c = createSharedMemoryRegion(key("excl"), 200, { exclusive: false });
    assert.equal(c.byteSize, 200, "a non-exclusive create resizes an existing object");
    assert.equal(c.buffer[10], 7);
    c.close();
  } finally {
    a.close();
    a.unlink();
  }
  assert.throws(() => openSharedMemoryRegion(key("never")), isCode("not_found", /No such file/));
  assert.throws(() => createSharedMemoryRegion(key("zero"), 0), isCode("invalid_argument", /byteSize must be an integer of at least 1/));
  assert.throws(() => createSharedMemoryRegion("", 10), isCode("invalid_argument", /key must be a non-empty string/));
  assert.throws(() => createSharedMemoryRegion("/a/b", 10), isCode("invalid_argument"));
  assert.deepEqual(leftovers(), []);
});

test("Tensor.fromSharedMemory: a data-less tensor naming a place in a region", () => {
  const t = Tensor.fromSharedMemory("IN", "FP32", [2, 3], { region: "r", offset: 8 });
  assert.deepEqual(t.sharedMemory, { region: "r", offset: 8, byteSize: 24 });
  assert.equal(t.size, 6);
  assert.equal(t.byteSize, 24);
  assert.throws(() => t.data, isCode("failed_precondition", /tensor "IN" is in shared memory region "r" \(offset 8, 24 bytes\)/));
  assert.throws(() => t.toRaw(), isCode("failed_precondition"));
  assert.equal(new Tensor("d", "INT8", [1], Int8Array.of(1)).sharedMemory, undefined);
  assert.throws(() => Tensor.fromSharedMemory("IN", "FP32", [4], { region: "r", byteSize: 8 }), isCode("invalid_argument", /byteSize 8 is too small/));
  assert.throws(() => Tensor.fromSharedMemory("IN", "BYTES", [1], { region: "r" }), isCode("invalid_argument", /BYTES data in shared memory needs byteSize/));
  assert.throws(() => Tensor.fromSharedMemory("IN", "INT8", [1], { region: "" }), isCode("invalid_argument", /region must be a non-empty string/));
  assert.throws(() => Tensor.fromSharedMemory("IN", "INT8", [1], { region: "r", offset: 1.5 }), isCode("invalid_argument", /offset/));
});

test("readTensor reads an output the server wrote, relative to where the region was registered", () => {
  const r = createSharedMemoryRegion(key("readtensor"), 256);
  try {
    r.write(Float64Array.of(0.5, 1.5), 128 + 16);
    const out = Tensor.fromSharedMemory("OUT", "FP64", [2], { region: "reg", offset: 16, byteSize: 16 });
    assert.deepEqual(Array.from(r.readTensor(out, { regionOffset: 128 }).data), [0.5, 1.5]);
    assert.equal(r.readTensor(out, { regionOffset: 128 }).name, "OUT");
    assert.throws(() => r.readTensor(new Tensor("d", "INT8", [1], Int8Array.of(1))), isCode("invalid_argument", /is not in shared memory/));
  } finally {
    r.close();
    r.unlink();
  }
});

test("HTTP codec: shared-memory tensors travel as parameters, never as data", () => {
  const inputs = [
    Tensor.fromSharedMemory("A", "INT32", [1, 16], { region: "in", offset: 64 }),
    new Tensor("B", "INT32", [1], Int32Array.of(5)),
  ];
  const body = httpCodec.encodeInferRequest(
    request({ inputs, outputs: [{ name: "X", binary: true, sharedMemory: { region: "out", offset: 0, byteSize: 64 } }, { name: "Y", binary: true }] }),
  );
  const all = Buffer.concat(body.chunks);
  const header = JSON.parse(all.subarray(0, body.headerLength).toString("utf8"));
  assert.deepEqual(header.inputs[0], {
    name: "A",
    shape: [1, 16],
    datatype: "INT32",
    parameters: { shared_memory_region: "in", shared_memory_byte_size: 64, shared_memory_offset: 64 },
  });
  assert.deepEqual(header.inputs[1].parameters, { binary_data_size: 4 });
  assert.equal(all.byteLength - body.headerLength, 4, "only the in-memory input's bytes follow the header");
  assert.deepEqual(header.outputs, [
    { name: "X", parameters: { shared_memory_region: "out", shared_memory_byte_size: 64 } },
    { name: "Y", parameters: { binary_data: true } },
  ]);

  // This server names the region in the output's parameters; Triton sends neither data nor parameters.
  const requested = [{ name: "X", binary: true, sharedMemory: { region: "out", offset: 4, byteSize: 64 } }];
  const ours = Buffer.from(JSON.stringify({
    model_name: "m",
    outputs: [
      { name: "X", datatype: "INT32", shape: [1, 16], parameters: { shared_memory_region: "out", shared_memory_byte_size: 64, shared_memory_offset: 4 } },
      { name: "Y", datatype: "INT32", shape: [1], data: [3] },
    ],
  }));
  const triton = Buffer.from(JSON.stringify({ model_name: "m", outputs: [{ name: "X", datatype: "INT32", shape: [1, 16] }] }));
  for (const res of [httpCodec.decodeInferResponse(ours, undefined), httpCodec.decodeInferResponse(triton, undefined, requested)]) {
    assert.deepEqual(res.outputs[0]!.sharedMemory, { region: "out", offset: 4, byteSize: 64 });
    assert.deepEqual(res.outputs[0]!.shape, [1, 16]);
    assert.throws(() => res.outputs[0]!.data, isCode("failed_precondition"));
  }
  assert.deepEqual(Array.from(httpCodec.decodeInferResponse(ours, undefined).outputs[1]!.data as Int32Array), [3]);
});

test("gRPC codec: raw contents only for inputs in memory; responses with empty or missing raw entries", () => {
  const definition = protoLoader.loadSync("grpc_service.proto", LOADER_OPTIONS);
  const infer = (definition["inference.GRPCInferenceService"] as protoLoader.ServiceDefinition).ModelInfer!;
  const msg = grpcCodec.encodeInferRequest(
    request({
      inputs: [new Tensor("A", "INT32", [1], Int32Array.of(7)), Tensor.fromSharedMemory("B", "INT32", [4], { region: "in" })],
      outputs: [{ name: "X", binary: true, sharedMemory: { region: "out", offset: 32, byteSize: 16 } }],
    }),
  );
  const back = infer.requestDeserialize(infer.requestSerialize(msg)) as any;
  assert.equal(back.raw_input_contents.length, 1);
  assert.deepEqual(Array.from(new Int32Array(new Uint8Array(back.raw_input_contents[0]).buffer)), [7]);
  assert.deepEqual(back.inputs[1].parameters, {
    shared_memory_region: { string_param: "in" },
    shared_memory_byte_size: { int64_param: "16" },
  });
  assert.deepEqual(back.outputs[0].parameters, {
    shared_memory_region: { string_param: "out" },
    shared_memory_byte_size: { int64_param: "16" },
    shared_memory_offset: { int64_param: "32" },
  });

  const requested = [{ name: "X", binary: true, sharedMemory: { region: "out", offset: 32, byteSize: 16 } }];
  const y = Buffer.from(Int32Array.of(1, 2).buffer);
  const outputs = [
    { name: "X", datatype: "INT32", shape: ["4"] },
    { name: "Y", datatype: "INT32", shape: ["2"] },
  ];
  // Triton: one raw entry per output, empty for the one in shared memory.
  const positional = grpcCodec.decodeInferResponse({ outputs, raw_output_contents: [Buffer.alloc(0), y] }, requested);
  // Others: raw entries only for the outputs with data.
  const compact = grpcCodec.decodeInferResponse({ outputs, raw_output_contents: [y] }, requested);
  for (const res of [positional, compact]) {
    assert.deepEqual(res.outputs[0]!.sharedMemory, { region: "out", offset: 32, byteSize: 16 });
    assert.deepEqual(Array.from(res.outputs[1]!.data as Int32Array), [1, 2]);
  }
  assert.throws(
    () => grpcCodec.decodeInferResponse({ outputs, raw_output_contents: [y, y, y] }, requested),
    isCode("internal", /2 outputs but 3 raw_output_contents entries/),
  );
});

test("without the addon the client still works and only the shared-memory helper explains how to build it", () => {
  const script = `
    import { createClient, Tensor } from "./src/index.ts";
    import { createSharedMemoryRegion, isSharedMemoryAvailable } from "./src/shm/index.ts";
    const client = createClient({ url: "http://127.0.0.1:1" });
    await client.close();
    const t = Tensor.fromSharedMemory("A", "INT8", [1], { region: "r" });
    console.log("client ok", t.byteSize, isSharedMemoryAvailable());
    try { createSharedMemoryRegion("/x", 10); } catch (e) { console.log(e.code + ": " + e.message); }
  `;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: new URL("..", import.meta.url),
    env: { ...process.env, IAAS_SHM_ADDON: "/nonexistent/iaas_shm.node" },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /client ok 1 false/);
  assert.match(r.stdout, /failed_precondition: system shared memory needs the native addon of @iaas\/client, which is not built: \/nonexistent\/iaas_shm.node does not exist; build it with node packages\/client\/scripts\/build-shm-addon.mjs/);

  // The main entry point never loads the addon, even when it is built.
  const probe = spawnSync(
    process.execPath,
    ["--input-type=module", "-e", `import "./src/index.ts"; import { createRequire } from "node:module"; console.log(Object.keys(createRequire(import.meta.url).cache).filter((k) => k.endsWith(".node")).length);`],
    { cwd: new URL("..", import.meta.url), encoding: "utf8" },
  );
  assert.equal(probe.status, 0, probe.stderr);
  assert.equal(probe.stdout.trim(), "0");
});
