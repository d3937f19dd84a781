// System shared memory end to end through the public client API (@iaas/client and @iaas/client/shm)
// against the reference server, over HTTP and gRPC: register/status/unregister, simple and identity_fp32
// with inputs and outputs in real POSIX shared memory, errors as InferenceError codes, and a server with
// the extension disabled. Lives in the cross-package test/ folder (the client cannot depend on the server).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { startServer, type RunningServer } from "@iaas/server-native";
import { InferenceError, Tensor, createClient, type InferenceClient } from "@iaas/client";
import { createSharedMemoryRegion, type SharedMemoryRegion } from "@iaas/client/shm";

const PREFIX = `iaas_e2eshm_${process.pid}_`;
const isCode = (code: string, message?: RegExp) => (e: unknown) =>
  e instanceof InferenceError && e.code === code && (message === undefined || message.test(e.message));

let srv: RunningServer;
let inputs: SharedMemoryRegion;
let outputs: SharedMemoryRegion;

before(async () => {
  srv = await startServer({ httpPort: 0, grpcPort: 0, sharedMemory: "system" });
  inputs = createSharedMemoryRegion(`/${PREFIX}in`, 4096);
  outputs = createSharedMemoryRegion(`/${PREFIX}out`, 4096);
});

after(async () => {
  await srv.close();
  for (const r of [inputs, outputs]) {
    r.close();
    r.unlink();
  }
  assert.deepEqual(readdirSync("/dev/shm").filter((f) => f.startsWith(PREFIX)), []);
});

for (const protocol of ["http", "grpc"] as const) {
  describe(`over ${protocol}`, () => {
    let client: InferenceClient;
    before(() => {
      client = createClient({ url: protocol === "http" ? srv.httpUrl : srv.grpcUrl, protocol });
    });
    after(async () => {
      await client.unregisterSystemSharedMemory();
      await client.close();
    });

    test("register, status and unregister", async () => {
      await client.registerSystemSharedMemory("in", inputs.key, 4096);
      await client.registerSystemSharedMemory("out", outputs.key, 2048, { offset: 1024 });
      const all = (await client.systemSharedMemoryStatus()).sort((a, b) => a.name.localeCompare(b.name));
      assert.deepEqual(all, [
        { name: "in", key: inputs.key, offset: 0, byteSize: 4096 },
        { name: "out", key: outputs.key, offset: 1024, byteSize: 2048 },
      ]);
      assert.deepEqual(await client.systemSharedMemoryStatus("out"), [{ name: "out", key: outputs.key, offset: 1024, byteSize: 2048 }]);
      await client.registerSystemSharedMemory("tmp", inputs.key, 16);
      await client.unregisterSystemSharedMemory("tmp");
      await assert.rejects(client.systemSharedMemoryStatus("tmp"), isCode("not_found", /Unable to find system shared memory region: 'tmp'/));
    });

    test("simple: both inputs and both outputs in shared memory", async () => {
      const a = Int32Array.from({ length: 16 }, (_, i) => i + (protocol === "grpc" ? 1000 : 0));
      const b = Int32Array.from({ length: 16 }, (_, i) => 2 * i);
      inputs.write(a, 0);
      inputs.write(b, 64);
      outputs.buffer.fill(0);
      const result = await client.infer(
        "simple",
        [
          Tensor.fromSharedMemory("INPUT0", "INT32", [1, 16], { region: "in", offset: 0 }),
          Tensor.fromSharedMemory("INPUT1", "INT32", [1, 16], { region: "in", offset: 64 }),
        ],
        {
          outputs: [
            { name: "OUTPUT0", sharedMemory: { region: "out", offset: 0, byteSize: 64 } },
            { name: "OUTPUT1", sharedMemory: { region: "out", offset: 64, byteSize: 64 } },
          ],
        },
      );
      const sum = result.output("OUTPUT0");
      assert.deepEqual(sum.sharedMemory, { region: "out", offset: 0, byteSize: 64 });
      assert.deepEqual(sum.shape, [1, 16]);
      assert.throws(() => sum.data, isCode("failed_precondition"));
      // "out" starts at offset 1024 of the object.
      assert.deepEqual(Array.from(outputs.readTensor(sum, { regionOffset: 1024 }).data as Int32Array), Array.from(a, (v, i) => v + b[i]!));
      assert.deepEqual(Array.from(outputs.readTensor(result.output("OUTPUT1"), { regionOffset: 1024 }).data as Int32Array), Array.from(a, (v, i) => v - b[i]!));
    });

    test("identity_fp32: a shared-memory input with a returned output, then a sent input with a shared-memory output", async () => {
      const values = Float32Array.from({ length: 100 }, (_, i) => i / 4 - 3);
      inputs.write(values, 512);
      const r1 = await client.infer("identity_fp32", [Tensor.fromSharedMemory("INPUT0", "FP32", [100], { region: "in", offset: 512 })]);
      assert.equal(r1.output("OUTPUT0").sharedMemory, undefined);
      assert.deepEqual(Array.from(r1.output("OUTPUT0").data as Float32Array), Array.from(values));

      outputs.buffer.fill(0xff);
      const r2 = await client.infer("identity_fp32", [new Tensor("INPUT0", "FP32", [3], Float32Array.of(7, 8, 9))], {
        outputs: [{ name: "OUTPUT0", sharedMemory: { region: "out", offset: 400, byteSize: 12 } }],
      });
      assert.deepEqual(Array.from(outputs.read("FP32", [3], 1024 + 400).data), [7, 8, 9]);
      assert.deepEqual(r2.output("OUTPUT0").sharedMemory, { region: "out", offset: 400, byteSize: 12 });
    });

    test("errors: duplicate name, unknown key, out of bounds, unknown region", async () => {
      const dup = client.registerSystemSharedMemory("in", inputs.key, 16);
      // HTTP carries ALREADY_EXISTS as 400 (Triton's mapping); gRPC keeps the code.
      await assert.rejects(dup, isCode(protocol === "grpc" ? "already_exists" : "invalid_argument", /shared memory region 'in' already in manager/));
      await assert.rejects(client.registerSystemSharedMemory("k", `/${PREFIX}absent`, 16), isCode("not_found", /cannot open shared memory object/));
      await assert.rejects(client.registerSystemSharedMemory("k", inputs.key, 4096, { offset: 1 }), isCode("invalid_argument", /exceeds the 4096 bytes/));
      await assert.rejects(client.registerSystemSharedMemory("k", inputs.key, 0), isCode("invalid_argument", /byteSize must be an integer of at least 1/));
      await assert.rejects(
        client.infer("identity_fp32", [Tensor.fromSharedMemory("INPUT0", "FP32", [4], { region: "in", offset: 4090 })]),
        isCode("invalid_argument", /Invalid offset \+ byte size for shared memory region: 'in'/),
      );
      await assert.rejects(
        client.infer("identity_fp32", [Tensor.fromSharedMemory("INPUT0", "FP32", [4], { region: "nope" })]),
        isCode("not_found", /Unable to find shared memory region: 'nope'/),
      );
      await assert.rejects(
        client.infer("identity_fp32", [new Tensor("INPUT0", "FP32", [1], Float32Array.of(1))], {
          outputs: [{ name: "OUTPUT0", sharedMemory: { region: "out", byteSize: -1 } }],
        }),
        isCode("invalid_argument", /output "OUTPUT0" sharedMemory.byteSize must be an integer of at least 0/),
      );
    });
  });
}

describe("a server with the extension disabled", () => {
  let off: RunningServer;
  before(async () => {
    off = await startServer({ httpPort: 0, grpcPort: 0 });
  });
  after(async () => {
    await off.close();
  });

  for (const protocol of ["http", "grpc"] as const) {
    test(`${protocol}: registration and inference by region are refused`, async () => {
      const client = createClient({ url: protocol === "http" ? off.httpUrl : off.grpcUrl, protocol });
      try {
        assert.ok(!(await client.serverMetadata()).extensions.includes("system_shared_memory"));
        await assert.rejects(
          client.registerSystemSharedMemory("in", inputs.key, 64),
          isCode(protocol === "http" ? "not_found" : "unimplemented", /system shared memory is not enabled on this server/),
        );
        await assert.rejects(
          client.infer("identity_fp32", [Tensor.fromSharedMemory("INPUT0", "FP32", [4], { region: "in" })]),
          isCode("unimplemented", /system shared memory is not enabled on this server/),
        );
      } finally {
        await client.close();
      }
    });
  }
});
