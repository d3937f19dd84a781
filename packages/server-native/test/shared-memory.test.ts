// The system_shared_memory extension against a real server, over raw HTTP and raw gRPC: region
// registration and status, inputs read from and outputs written to real POSIX shared memory (created with
// @iaas/client/shm and checked by reading the memory back), the error cases, deferred unmapping while a
// request holds a region, and a server with the extension disabled.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createSharedMemoryRegion, type SharedMemoryRegion } from "@iaas/client/shm";
import { DEFAULT_MODEL_REPOSITORY, startServer, type RunningServer } from "../src/server.ts";
import { grpcClient, http, identityConfig, postJson, splitBinaryResponse, tempRepository, type GrpcTestClient } from "./helpers.ts";

const PREFIX = `iaas_srvshm_${process.pid}_`;
const models = {
  simple: readFileSync(join(DEFAULT_MODEL_REPOSITORY, "simple", "config.pbtxt"), "utf8"),
  identity_fp32: identityConfig("identity_fp32", "TYPE_FP32"),
  identity_bytes: identityConfig("identity_bytes", "TYPE_STRING"),
};

const regions: SharedMemoryRegion[] = [];
/** A fresh region of `byteSize` bytes; closed and unlinked after the file's tests. */
function region(tag: string, byteSize: number): SharedMemoryRegion {
  const r = createSharedMemoryRegion(`/${PREFIX}${tag}`, byteSize);
  regions.push(r);
  return r;
}

/** Mappings of a /dev/shm object in this process (the test's own plus the server's, which share the process). */
function mappingsOf(key: string): number {
  return readFileSync("/proc/self/maps", "utf8")
    .split("\n")
    .filter((l) => l.endsWith(`/dev/shm${key}`) || l.endsWith(`/dev/shm${key} (deleted)`)).length;
}

const int32s = (n: number, f: (i: number) => number): Int32Array => Int32Array.from({ length: n }, (_, i) => f(i));
const shmParams = (region: string, byteSize: number, offset?: number): Record<string, unknown> =>
  offset === undefined
    ? { shared_memory_region: region, shared_memory_byte_size: byteSize }
    : { shared_memory_region: region, shared_memory_byte_size: byteSize, shared_memory_offset: offset };
const grpcParams = (region: string, byteSize: number, offset = 0): Record<string, unknown> => ({
  shared_memory_region: { string_param: region },
  shared_memory_byte_size: { int64_param: byteSize },
  shared_memory_offset: { int64_param: offset },
});

let repo: ReturnType<typeof tempRepository>;
let srv: RunningServer;
let base: string;
let grpc: GrpcTestClient;

before(async () => {
  repo = tempRepository(models);
  srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, sharedMemory: "system" });
  base = srv.httpUrl;
  grpc = grpcClient(srv.grpcUrl);
});

after(async () => {
  grpc.close();
  await srv.close();
  repo.remove();
  for (const r of regions) {
    r.close();
    r.unlink();
  }
  assert.deepEqual(readdirSync("/dev/shm").filter((f) => f.startsWith(PREFIX)), [], "no shared-memory objects left behind");
});

describe("registration over HTTP", () => {
  test("register, status (all and one), unregister (one and all)", async () => {
    const r = region("http_reg", 4096);
    const reg = await postJson(base, "/v2/systemsharedmemory/region/h_a/register", { key: r.key, offset: 0, byte_size: 4096 });
    assert.equal(reg.status, 200, reg.body.toString());
    assert.equal(reg.body.byteLength, 0);
    assert.equal((await postJson(base, "/v2/systemsharedmemory/region/h_b/register", { key: r.key, offset: 1000, byte_size: 96 })).status, 200);

    const all = await http(base, "/v2/systemsharedmemory/status");
    assert.equal(all.status, 200);
    const listed = (all.json() as { name: string }[]).filter((s) => s.name.startsWith("h_")).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(listed, [
      { name: "h_a", key: r.key, offset: 0, byte_size: 4096 },
      { name: "h_b", key: r.key, offset: 1000, byte_size: 96 },
    ]);
    const one = await http(base, "/v2/systemsharedmemory/region/h_b/status");
    assert.deepEqual(one.json(), [{ name: "h_b", key: r.key, offset: 1000, byte_size: 96 }]);

    assert.equal((await postJson(base, "/v2/systemsharedmemory/region/h_a/unregister", {})).status, 200);
    const gone = await http(base, "/v2/systemsharedmemory/region/h_a/status");
    assert.equal(gone.status, 404);
    assert.match(gone.json().error, /Unable to find system shared memory region: 'h_a'/);
    // Unregistering an unknown name is not an error (as Triton).
    assert.equal((await postJson(base, "/v2/systemsharedmemory/region/h_a/unregister", {})).status, 200);

    assert.equal((await postJson(base, "/v2/systemsharedmemory/unregister", {})).status, 200);
    assert.deepEqual((await http(base, "/v2/systemsharedmemory/status")).json(), []);
  });

  test("duplicate name, unknown key, out-of-range and malformed registrations are refused", async () => {
    const r = region("http_err", 4096);
    assert.equal((await postJson(base, "/v2/systemsharedmemory/region/h_dup/register", { key: r.key, byte_size: 16 })).status, 200);
    const dup = await postJson(base, "/v2/systemsharedmemory/region/h_dup/register", { key: r.key, byte_size: 16 });
    assert.equal(dup.status, 400);
    assert.match(dup.json().error, /shared memory region 'h_dup' already in manager/);

    const unknown = await postJson(base, "/v2/systemsharedmemory/region/h_unknown/register", { key: `/${PREFIX}nope`, byte_size: 16 });
    assert.equal(unknown.status, 404);
    assert.match(unknown.json().error, new RegExp(`failed to register shared memory region 'h_unknown': cannot open shared memory object '/${PREFIX}nope': No such file`));

    const range = await postJson(base, "/v2/systemsharedmemory/region/h_range/register", { key: r.key, offset: 4000, byte_size: 100 });
    assert.equal(range.status, 400);
    assert.match(range.json().error, /offset 4000 \+ byte_size 100 exceeds the 4096 bytes of shared memory object/);

    const noKey = await postJson(base, "/v2/systemsharedmemory/region/h_nokey/register", { byte_size: 16 });
    assert.equal(noKey.status, 400);
    assert.match(noKey.json().error, /'key' must be a non-empty string/);
    const zero = await postJson(base, "/v2/systemsharedmemory/region/h_zero/register", { key: r.key, byte_size: 0 });
    assert.equal(zero.status, 400);
    assert.match(zero.json().error, /'byte_size' must be an integer of at least 1, got 0/);

    const wrongMethod = await http(base, "/v2/systemsharedmemory/status", { method: "POST", body: "{}" });
    assert.equal(wrongMethod.status, 405);
    assert.equal((await postJson(base, "/v2/systemsharedmemory/unregister", {})).status, 200);
  });
});

describe("registration over gRPC", () => {
  test("register, status, unregister and their errors", async () => {
    const r = region("grpc_reg", 8192);
    await grpc.call("SystemSharedMemoryRegister", { name: "g_a", key: r.key, offset: 4096, byte_size: 4096 });
    const status = await grpc.call("SystemSharedMemoryStatus", { name: "" });
    assert.deepEqual(Object.keys(status.regions), ["g_a"]);
    assert.deepEqual(status.regions.g_a, { name: "g_a", key: r.key, offset: "4096", byte_size: "4096" });
    const one = await grpc.call("SystemSharedMemoryStatus", { name: "g_a" });
    assert.equal(one.regions.g_a.byte_size, "4096");

    await assert.rejects(grpc.call("SystemSharedMemoryRegister", { name: "g_a", key: r.key, offset: 0, byte_size: 16 }), (e: any) => {
      assert.equal(e.code, 6); // ALREADY_EXISTS
      assert.match(e.details, /already in manager/);
      return true;
    });
    await assert.rejects(grpc.call("SystemSharedMemoryRegister", { name: "g_b", key: `/${PREFIX}missing`, offset: 0, byte_size: 16 }), (e: any) => {
      assert.equal(e.code, 5); // NOT_FOUND
      assert.match(e.details, /cannot open shared memory object/);
      return true;
    });
    await assert.rejects(grpc.call("SystemSharedMemoryRegister", { name: "g_c", key: r.key, offset: 8000, byte_size: 1000 }), (e: any) => {
      assert.equal(e.code, 3); // INVALID_ARGUMENT
      assert.match(e.details, /exceeds the 8192 bytes/);
      return true;
    });
    await assert.rejects(grpc.call("SystemSharedMemoryStatus", { name: "g_zz" }), (e: any) => e.code === 5);

    await grpc.call("SystemSharedMemoryUnregister", { name: "g_a" });
    assert.deepEqual((await grpc.call("SystemSharedMemoryStatus", { name: "" })).regions, {});
  });
});

describe("inference with tensors in shared memory", () => {
  const a = int32s(16, (i) => i * 3);
  const b = int32s(16, (i) => 100 - i);
  const sum = Array.from(a, (v, i) => v + b[i]!);
  const diff = Array.from(a, (v, i) => v - b[i]!);
  let inputs: SharedMemoryRegion;
  let outputs: SharedMemoryRegion;

  before(async () => {
    inputs = region("infer_in", 256);
    outputs = region("infer_out", 256);
    inputs.buffer.set(new Uint8Array(a.buffer), 0);
    inputs.buffer.set(new Uint8Array(b.buffer), 100); // deliberately not 4-byte aligned
    await grpc.call("SystemSharedMemoryRegister", { name: "in", key: inputs.key, offset: 0, byte_size: 256 });
    // Registered from offset 64 of the object: tensor offsets are relative to the region.
    await grpc.call("SystemSharedMemoryRegister", { name: "out", key: outputs.key, offset: 64, byte_size: 192 });
  });

  const readOut = (offset: number): number[] => Array.from(outputs.read("INT32", [16], 64 + offset).data as Int32Array);

  test("HTTP: simple with both inputs and both outputs in shared memory", async () => {
    outputs.buffer.fill(0x7f);
    const r = await postJson(base, "/v2/models/simple/infer", {
      inputs: [
        { name: "INPUT0", datatype: "INT32", shape: [1, 16], parameters: shmParams("in", 64) },
        { name: "INPUT1", datatype: "INT32", shape: [1, 16], parameters: shmParams("in", 64, 100) },
      ],
      outputs: [
        { name: "OUTPUT0", parameters: shmParams("out", 64) },
        { name: "OUTPUT1", parameters: shmParams("out", 64, 128) },
      ],
    });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers.get("content-type"), "application/json");
    const body = r.json();
    assert.deepEqual(body.outputs, [
      { name: "OUTPUT0", datatype: "INT32", shape: [1, 16], parameters: { shared_memory_region: "out", shared_memory_byte_size: 64, shared_memory_offset: 0 } },
      { name: "OUTPUT1", datatype: "INT32", shape: [1, 16], parameters: { shared_memory_region: "out", shared_memory_byte_size: 64, shared_memory_offset: 128 } },
    ]);
    assert.deepEqual(readOut(0), sum);
    assert.deepEqual(readOut(128), diff);
    assert.equal(outputs.buffer[64 + 64], 0x7f, "bytes between the two outputs are untouched");
  });

  test("HTTP: identity_fp32 mixing a shared-memory input with a binary output, and the reverse", async () => {
    const values = Float32Array.from([1.5, -2.25, 3e7, 0.125]);
    inputs.buffer.set(new Uint8Array(values.buffer), 200);
    const r1 = await postJson(base, "/v2/models/identity_fp32/infer", {
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [4], parameters: shmParams("in", 16, 200) }],
      outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }],
    });
    assert.equal(r1.status, 200, r1.body.toString());
    const blob = splitBinaryResponse(r1).blobs.get("OUTPUT0")!;
    assert.deepEqual(Array.from(new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength))), Array.from(values));

    outputs.buffer.fill(0);
    const r2 = await postJson(base, "/v2/models/identity_fp32/infer", {
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [4], data: [9, 8, 7, 6] }],
      outputs: [{ name: "OUTPUT0", parameters: shmParams("out", 32, 8) }],
    });
    assert.equal(r2.status, 200, r2.body.toString());
    assert.equal(r2.json().outputs[0].data, undefined);
    assert.deepEqual(Array.from(outputs.read("FP32", [4], 64 + 8).data as Float32Array), [9, 8, 7, 6]);
  });

  test("HTTP: BYTES input and output in shared memory (identity_bytes)", async () => {
    const words = ["shared", "", "memory ✓"].map((s) => Buffer.from(s));
    const raw = Buffer.concat(words.flatMap((w) => [Buffer.from(Uint32Array.of(w.byteLength).buffer), w]));
    inputs.buffer.set(raw, 216);
    const r = await postJson(base, "/v2/models/identity_bytes/infer", {
      inputs: [{ name: "INPUT0", datatype: "BYTES", shape: [3], parameters: shmParams("in", raw.byteLength, 216) }],
      outputs: [{ name: "OUTPUT0", parameters: shmParams("out", 100, 0) }],
    });
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(outputs.read("BYTES", [3], 64).strings(), ["shared", "", "memory ✓"]);
  });

  test("gRPC: simple with Triton's layout (raw contents only for inputs not in shared memory)", async () => {
    outputs.buffer.fill(0x7f);
    const res = await grpc.call("ModelInfer", {
      model_name: "simple",
      inputs: [
        { name: "INPUT0", datatype: "INT32", shape: [1, 16], parameters: grpcParams("in", 64) },
        { name: "INPUT1", datatype: "INT32", shape: [1, 16] },
      ],
      outputs: [
        { name: "OUTPUT0", parameters: grpcParams("out", 64) },
        { name: "OUTPUT1" },
      ],
      raw_input_contents: [Buffer.from(b.buffer)],
    });
    assert.deepEqual(readOut(0), sum);
    assert.equal(res.outputs[0].parameters.shared_memory_region.string_param, "out");
    assert.equal(res.outputs[0].parameters.shared_memory_byte_size.int64_param, "64");
    // One raw entry per output: empty for the output written to shared memory.
    assert.equal(res.raw_output_contents.length, 2);
    assert.equal(res.raw_output_contents[0].byteLength, 0);
    assert.deepEqual(Array.from(new Int32Array(new Uint8Array(res.raw_output_contents[1]).buffer)), diff);
  });

  test("gRPC: one raw entry per input with empty entries for shared-memory inputs is accepted too", async () => {
    outputs.buffer.fill(0);
    await grpc.call("ModelInfer", {
      model_name: "simple",
      inputs: [
        { name: "INPUT0", datatype: "INT32", shape: [1, 16] },
        { name: "INPUT1", datatype: "INT32", shape: [1, 16], parameters: grpcParams("in", 64, 100) },
      ],
      outputs: [{ name: "OUTPUT1", parameters: grpcParams("out", 64, 64) }],
      raw_input_contents: [Buffer.from(a.buffer), Buffer.alloc(0)],
    });
    assert.deepEqual(readOut(64), diff);
  });

  test("bad shared-memory references are refused with Triton's errors", async () => {
    const infer = (inputParams: Record<string, unknown>, outputParams?: Record<string, unknown>, shape = [1, 16]) =>
      postJson(base, "/v2/models/simple/infer", {
        inputs: [
          { name: "INPUT0", datatype: "INT32", shape, parameters: inputParams },
          { name: "INPUT1", datatype: "INT32", shape, data: Array.from({ length: shape[1]! }, () => 1) },
        ],
        ...(outputParams ? { outputs: [{ name: "OUTPUT0", parameters: outputParams }] } : {}),
      });
    const cases: [Promise<Awaited<ReturnType<typeof postJson>>>, number, RegExp][] = [
      [infer(shmParams("in", 64, 200)), 400, /input 'INPUT0': Invalid offset \+ byte size for shared memory region: 'in' \(offset 200 \+ byte_size 64 exceeds the region's 256 bytes\)/],
      [infer(shmParams("nowhere", 64)), 404, /input 'INPUT0': Unable to find shared memory region: 'nowhere'/],
      [infer(shmParams("in", 60)), 400, /input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 60/],
      [infer({ shared_memory_region: "in" }), 400, /parameter 'shared_memory_byte_size' is required/],
      [infer({ ...shmParams("in", 64), shared_memory_offset: -4 }), 400, /'shared_memory_offset' must be a non-negative integer/],
      [infer(shmParams("in", 64), shmParams("out", 32)), 400, /shared memory size specified with the request for output 'OUTPUT0' \(32 bytes\) should be at least 64 bytes/],
      [infer(shmParams("in", 64), shmParams("in", 64, 32)), 400, /output 'OUTPUT0': its shared memory .* overlaps the shared memory of input 'INPUT0'/],
    ];
    for (const [reply, status, error] of cases) {
      const r = await reply;
      assert.equal(r.status, status, r.body.toString());
      assert.match(r.json().error, error);
    }
    const both = await postJson(base, "/v2/models/simple/infer", {
      inputs: [
        { name: "INPUT0", datatype: "INT32", shape: [1, 16], data: Array(16).fill(0), parameters: shmParams("in", 64) },
        { name: "INPUT1", datatype: "INT32", shape: [1, 16], data: Array(16).fill(0) },
      ],
    });
    assert.equal(both.status, 400);
    assert.match(both.json().error, /takes its data from shared memory; do not send 'data'/);
    await assert.rejects(
      grpc.call("ModelInfer", {
        model_name: "simple",
        inputs: [
          { name: "INPUT0", datatype: "INT32", shape: [1, 16], parameters: grpcParams("in", 64) },
          { name: "INPUT1", datatype: "INT32", shape: [1, 16] },
        ],
        raw_input_contents: [Buffer.alloc(64), Buffer.alloc(64), Buffer.alloc(64)],
      }),
      (e: any) => e.code === 3 && /raw_input_contents has 3 entries but the request has 2 inputs .*\(1 in shared memory\)/.test(e.details),
    );
    // Nothing leaked: every failed request gave its leases back.
    assert.equal(srv.server.systemSharedMemory!.leasesOf("in"), 0);
    assert.equal(srv.server.systemSharedMemory!.leasesOf("out"), 0);
  });
});

describe("unregistering and reusing regions", () => {
  test("a region unregistered while a request holds it stays mapped until the request ends", async () => {
    const r = region("inflight", 4096);
    r.write(new Uint8Array(new Float32Array([4, 5, 6]).buffer), 0);
    const shm = srv.server.systemSharedMemory!;
    shm.register("flight", r.key, 0, 4096);
    assert.equal(mappingsOf(r.key), 2, "the test's mapping and the server's");
    // infer() binds the regions synchronously, before its first await: the lease is out once it returns.
    const pending = srv.server.infer({
      model: "identity_fp32",
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [3], data: Buffer.alloc(0), sharedMemory: { region: "flight", offset: 0, byteSize: 12 } }],
      outputs: [{ name: "OUTPUT0", sharedMemory: { region: "flight", offset: 16, byteSize: 12 } }],
    });
    assert.equal(shm.leasesOf("flight"), 2);
    shm.unregister("flight");
    assert.deepEqual(shm.status().filter((s) => s.name === "flight"), [], "the name is gone at once");
    assert.equal(mappingsOf(r.key), 2, "but the memory stays mapped while the request runs");
    const response = await pending;
    assert.deepEqual(response.outputs[0]!.sharedMemory, { region: "flight", offset: 16, byteSize: 12 });
    assert.deepEqual(Array.from(r.read("FP32", [3], 16).data as Float32Array), [4, 5, 6]);
    assert.equal(mappingsOf(r.key), 1, "unmapped when the request ended");
  });

  test("after unregister the name can be registered again, to other memory", async () => {
    const first = region("reuse1", 64);
    const second = region("reuse2", 64);
    first.write(new Float32Array([1, 1]));
    second.write(new Float32Array([2, 2]));
    const run = async () => {
      const r = await postJson(base, "/v2/models/identity_fp32/infer", {
        inputs: [{ name: "INPUT0", datatype: "FP32", shape: [2], parameters: shmParams("re", 8) }],
      });
      assert.equal(r.status, 200, r.body.toString());
      return r.json().outputs[0].data;
    };
    assert.equal((await postJson(base, "/v2/systemsharedmemory/region/re/register", { key: first.key, byte_size: 64 })).status, 200);
    assert.deepEqual(await run(), [1, 1]);
    assert.equal((await postJson(base, "/v2/systemsharedmemory/region/re/unregister", {})).status, 200);
    assert.equal(mappingsOf(first.key), 1, "the server unmapped the first object");
    const missing = await postJson(base, "/v2/models/identity_fp32/infer", {
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [2], parameters: shmParams("re", 8) }],
    });
    assert.equal(missing.status, 404);
    assert.equal((await postJson(base, "/v2/systemsharedmemory/region/re/register", { key: second.key, byte_size: 64 })).status, 200);
    assert.deepEqual(await run(), [2, 2]);
    assert.equal((await postJson(base, "/v2/systemsharedmemory/region/re/unregister", {})).status, 200);
  });

  test("many requests racing an unregister: each succeeds or is told the region is gone", async () => {
    const r = region("race", 1 << 20);
    const n = 1 << 18;
    const values = Float32Array.from({ length: n }, (_, i) => i);
    r.write(values);
    assert.equal((await postJson(base, "/v2/systemsharedmemory/region/race/register", { key: r.key, byte_size: 1 << 20 })).status, 200);
    const calls = Array.from({ length: 12 }, () =>
      postJson(base, "/v2/models/identity_fp32/infer", {
        inputs: [{ name: "INPUT0", datatype: "FP32", shape: [n], parameters: shmParams("race", n * 4) }],
        outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }],
      }),
    );
    const unregister = postJson(base, "/v2/systemsharedmemory/region/race/unregister", {});
    const replies = await Promise.all(calls);
    assert.equal((await unregister).status, 200);
    for (const reply of replies) {
      if (reply.status === 404) {
        assert.match(reply.json().error, /Unable to find shared memory region: 'race'/);
        continue;
      }
      assert.equal(reply.status, 200, reply.body.toString());
      const blob = splitBinaryResponse(reply).blobs.get("OUTPUT0")!;
      assert.equal(blob.readFloatLE((n - 1) * 4), n - 1);
    }
    assert.equal(mappingsOf(r.key), 1, "the server's mapping is gone once all requests ended");
  });
});

describe("server metadata and closing", () => {
  test("the extension is advertised when enabled", async () => {
    assert.ok((await http(base, "/v2")).json().extensions.includes("system_shared_memory"));
    assert.ok((await grpc.call("ServerMetadata", {})).extensions.includes("system_shared_memory"));
  });

  test("closing the server unmaps every region", async () => {
    const repo2 = tempRepository({ identity_fp32: models.identity_fp32 });
    const s = await startServer({ modelRepository: repo2.dir, httpPort: 0, grpcPort: 0, sharedMemory: "system" });
    try {
      const r = region("close", 4096);
      s.server.systemSharedMemory!.register("c1", r.key, 0, 4096);
      s.server.systemSharedMemory!.register("c2", r.key, 0, 100);
      assert.equal(mappingsOf(r.key), 3);
      await s.close();
      assert.equal(mappingsOf(r.key), 1);
    } finally {
      await s.close();
      repo2.remove();
    }
  });
});

describe("with the extension disabled (the default)", () => {
  let off: RunningServer;
  let offGrpc: GrpcTestClient;
  let offRepo: ReturnType<typeof tempRepository>;
  before(async () => {
    offRepo = tempRepository({ simple: models.simple });
    off = await startServer({ modelRepository: offRepo.dir, httpPort: 0, grpcPort: 0 });
    offGrpc = grpcClient(off.grpcUrl);
  });
  after(async () => {
    offGrpc.close();
    await off.close();
    offRepo.remove();
  });

  test("registration endpoints answer 404 / UNIMPLEMENTED and metadata does not list the extension", async () => {
    const r = region("off", 4096);
    const reg = await postJson(off.httpUrl, "/v2/systemsharedmemory/region/x/register", { key: r.key, byte_size: 64 });
    assert.equal(reg.status, 404);
    assert.match(reg.json().error, /system shared memory is not enabled on this server .*--allow-shared-memory/);
    assert.equal((await http(off.httpUrl, "/v2/systemsharedmemory/status")).status, 404);
    await assert.rejects(offGrpc.call("SystemSharedMemoryRegister", { name: "x", key: r.key, offset: 0, byte_size: 64 }), (e: any) => {
      assert.equal(e.code, 12); // UNIMPLEMENTED
      assert.match(e.details, /system shared memory is not enabled/);
      return true;
    });
    assert.ok(!(await http(off.httpUrl, "/v2")).json().extensions.includes("system_shared_memory"));
    assert.equal(mappingsOf(r.key), 1, "nothing was mapped by the server");
  });

  test("inference naming a region is refused as unsupported on both protocols", async () => {
    const r = await postJson(off.httpUrl, "/v2/models/simple/infer", {
      inputs: [
        { name: "INPUT0", datatype: "INT32", shape: [1, 16], parameters: shmParams("in", 64) },
        { name: "INPUT1", datatype: "INT32", shape: [1, 16], data: Array(16).fill(0) },
      ],
    });
    assert.equal(r.status, 501);
    assert.match(r.json().error, /input 'INPUT0': shared memory tensors are not supported by this server: system shared memory is not enabled on this server .*--allow-shared-memory/);
    // Even an incomplete reference is told the extension is off, not what is missing from it.
    const partial = await postJson(off.httpUrl, "/v2/models/simple/infer", {
      inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 16], parameters: { shared_memory_region: "in" } }],
    });
    assert.equal(partial.status, 501);
    await assert.rejects(
      offGrpc.call("ModelInfer", {
        model_name: "simple",
        inputs: [
          { name: "INPUT0", datatype: "INT32", shape: [1, 16] },
          { name: "INPUT1", datatype: "INT32", shape: [1, 16] },
        ],
        outputs: [{ name: "OUTPUT0", parameters: grpcParams("out", 64) }],
        raw_input_contents: [Buffer.alloc(64), Buffer.alloc(64)],
      }),
      (e: any) => e.code === 12 && /output 'OUTPUT0': shared memory tensors are not supported by this server: system shared memory is not enabled/.test(e.details),
    );
  });
});
