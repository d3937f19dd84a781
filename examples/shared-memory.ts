// Triton's `simple` model with its inputs and outputs in system shared memory: the tensors never travel in
// the HTTP/gRPC messages, only the names of the regions they live in. The server must run on the same
// machine with the extension enabled (`./iaas serve --allow-shared-memory`).
//   node examples/shared-memory.ts [URL] [http|grpc]
// e.g. node examples/shared-memory.ts http://127.0.0.1:8000
//      node examples/shared-memory.ts 127.0.0.1:8001 grpc
import { createClient, InferenceError, Tensor, type Protocol } from "@iaas/client";
import { createSharedMemoryRegion } from "@iaas/client/shm";

const url = process.argv[2] ?? "http://127.0.0.1:8000";
const protocol = (process.argv[3] ?? "http") as Protocol;
const client = createClient({ url, protocol, timeoutMs: 5000 });

// One object for the two inputs and one for the two outputs; 16 INT32 = 64 bytes per tensor.
const tag = `${process.pid}_${protocol}`;
const inputs = createSharedMemoryRegion(`/iaas_example_in_${tag}`, 128);
const outputs = createSharedMemoryRegion(`/iaas_example_out_${tag}`, 128);

try {
  if (!(await client.serverMetadata()).extensions.includes("system_shared_memory"))
    throw new InferenceError("unimplemented", `the server at ${url} does not offer system shared memory (start it with --allow-shared-memory)`);
  await client.registerSystemSharedMemory("example_in", inputs.key, inputs.byteSize);
  await client.registerSystemSharedMemory("example_out", outputs.key, outputs.byteSize);

  inputs.write(Int32Array.from({ length: 16 }, (_, i) => i), 0);
  inputs.write(new Int32Array(16).fill(1), 64);
  const result = await client.infer(
    "simple",
    [
      Tensor.fromSharedMemory("INPUT0", "INT32", [1, 16], { region: "example_in", offset: 0 }),
      Tensor.fromSharedMemory("INPUT1", "INT32", [1, 16], { region: "example_in", offset: 64 }),
    ],
    {
      outputs: [
        { name: "OUTPUT0", sharedMemory: { region: "example_out", offset: 0, byteSize: 64 } },
        { name: "OUTPUT1", sharedMemory: { region: "example_out", offset: 64, byteSize: 64 } },
      ],
    },
  );
  for (const name of ["OUTPUT0", "OUTPUT1"]) {
    const out = result.output(name);
    const values = outputs.readTensor(out).data as Int32Array;
    console.log(`${name} (region ${out.sharedMemory!.region} @${out.sharedMemory!.offset}) = [${Array.from(values).join(", ")}]`);
  }
  await client.unregisterSystemSharedMemory("example_in");
  await client.unregisterSystemSharedMemory("example_out");
} catch (err) {
  const e = InferenceError.from(err);
  console.error(`shared-memory: ${e.code}: ${e.message}`);
  process.exitCode = 1;
} finally {
  // Unmap here and remove the objects; the server unmapped its side when they were unregistered.
  for (const r of [inputs, outputs]) {
    r.close();
    r.unlink();
  }
  await client.close();
}
