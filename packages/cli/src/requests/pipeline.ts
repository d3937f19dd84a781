// What happens to each request between the load generator and the client: which data it carries (a data
// file's requests in turn), whether its answer is checked (--validate), whether it goes over a gRPC stream
// (--streaming) and whether its tensors travel through system shared memory (--shared-memory system).
// The generators call `infer(model, inputs, options)`; the pipeline is a client whose infer does the above,
// so the generators' hot paths stay as they are. Without any of these options no wrapper is made at all.
import { Tensor, type InferenceClient, type InferOptions, type InferResult, type InferStream, type RequestedOutput } from "@iaas/client";
import { elementSize, isDataType } from "@iaas/client/protocol";
import type { ModelInfo } from "../inputs/build.ts";
import type { RequestData } from "./data-file.ts";
import { validateResult } from "./validate.ts";

/** perf_analyzer's --output-shared-memory-size default: bytes per output whose size the metadata leaves open. */
export const DEFAULT_OUTPUT_SHM_BYTES = 102_400;
const ALIGN = 64;

export interface PipelineOptions {
  client: InferenceClient;
  info: ModelInfo;
  batchSize: number;
  /** Requests sent in turn. */
  requests: RequestData[];
  /** Check responses against the requests' expected outputs. */
  validate?: boolean;
  /** Send on one gRPC ModelStreamInfer stream instead of unary calls. */
  stream?: boolean;
  /** Pass tensors through system shared memory; `slots` output areas for requests in flight at once. */
  sharedMemory?: { slots: number; outputBytes?: number };
}

export interface RequestPipeline {
  /** The client the load generators use. */
  client: InferenceClient;
  /** Inputs to hand the generators (the pipeline replaces them per request when it has to). */
  inputs: Tensor[];
  /** Ends the stream and unregisters and removes the shared memory. */
  close(): Promise<void>;
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** Bytes one output takes for `batchSize` samples, or undefined when a dimension is variable or it is BYTES. */
function outputBytes(info: ModelInfo, name: string, batchSize: number): number | undefined {
  const meta = info.outputs.find((o) => o.name === name)!;
  if (!isDataType(meta.datatype) || meta.datatype === "BYTES") return undefined;
  const dims = info.maxBatchSize > 0 ? meta.shape.slice(1) : meta.shape;
  if (dims.some((d) => d < 0)) return undefined;
  return dims.reduce((a, b) => a * b, info.maxBatchSize > 0 ? batchSize : 1) * elementSize(meta.datatype);
}

interface ShmState {
  close(): Promise<void>;
  /** Shared-memory versions of each request's inputs. */
  inputs: Tensor[][];
  /** Output options of each slot. */
  slotOutputs: RequestedOutput[][];
  free: number[];
  read(t: Tensor): Tensor;
}

async function setUpSharedMemory(o: PipelineOptions): Promise<ShmState> {
  const shm = await import("@iaas/client/shm");
  if (!shm.isSharedMemoryAvailable())
    throw new Error("--shared-memory system needs @iaas/client's shared-memory addon: build it with `node packages/client/scripts/build-shm-addon.mjs`");
  const tag = `iaas_bench_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
  const inName = `${tag}_in`;
  const outName = `${tag}_out`;
  let inBytes = 0;
  for (const r of o.requests) for (const t of r.inputs) inBytes += align(t.byteSize);
  const sizes = o.info.outputs.map((m) => outputBytes(o.info, m.name, o.batchSize) ?? o.sharedMemory!.outputBytes ?? DEFAULT_OUTPUT_SHM_BYTES);
  const slotBytes = sizes.reduce((a, b) => a + align(b), 0);
  const slots = o.sharedMemory!.slots;
  const input = shm.createSharedMemoryRegion(`/${inName}`, Math.max(ALIGN, inBytes));
  const output = shm.createSharedMemoryRegion(`/${outName}`, Math.max(ALIGN, slotBytes * slots));
  const cleanup = () => {
    for (const r of [input, output]) {
      r.close();
      r.unlink();
    }
  };
  try {
    await o.client.registerSystemSharedMemory(inName, input.key, input.byteSize);
    await o.client.registerSystemSharedMemory(outName, output.key, output.byteSize);
  } catch (err) {
    await o.client.unregisterSystemSharedMemory(inName).catch(() => {});
    cleanup();
    throw new Error(`cannot register shared memory with the server (start it with --allow-shared-memory): ${(err as Error).message}`, { cause: err });
  }
  let offset = 0;
  const inputs = o.requests.map((r) =>
    r.inputs.map((t) => {
      input.write(t, offset);
      const shmTensor = Tensor.fromSharedMemory(t.name, t.datatype, t.shape, { region: inName, offset, byteSize: t.byteSize });
      offset += align(t.byteSize);
      return shmTensor;
    }),
  );
  const slotOutputs: RequestedOutput[][] = [];
  for (let s = 0; s < slots; s++) {
    let at = s * slotBytes;
    slotOutputs.push(
      o.info.outputs.map((m, i) => {
        const out = { name: m.name, sharedMemory: { region: outName, offset: at, byteSize: sizes[i]! } };
        at += align(sizes[i]!);
        return out;
      }),
    );
  }
  return {
    inputs,
    slotOutputs,
    free: Array.from({ length: slots }, (_, i) => slots - 1 - i),
    read: (t) => output.readTensor(t),
    close: async () => {
      await o.client.unregisterSystemSharedMemory(inName).catch(() => {});
      await o.client.unregisterSystemSharedMemory(outName).catch(() => {});
      cleanup();
    },
  };
}

/** Last result of one request on a stream (a model that is not decoupled answers once). */
async function streamInfer(stream: InferStream, model: string, inputs: Tensor[], options: InferOptions): Promise<InferResult> {
  const id = stream.send(model, inputs, {
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...(options.outputs !== undefined ? { outputs: options.outputs } : {}),
    ...(options.parameters !== undefined ? { parameters: options.parameters } : {}),
  });
  let last: InferResult | undefined;
  for await (const r of stream.responses(id)) last = r;
  if (last === undefined) throw Object.assign(new Error(`stream request ${id}: no response`), { code: "internal" });
  return last;
}

export async function createRequestPipeline(o: PipelineOptions): Promise<RequestPipeline> {
  const plain = o.requests.length === 1 && !o.validate && !o.stream && !o.sharedMemory && o.requests[0]!.options === undefined;
  if (plain) return { client: o.client, inputs: o.requests[0]!.inputs, close: async () => {} };

  const shm = o.sharedMemory ? await setUpSharedMemory(o) : undefined;
  let stream: InferStream | undefined;
  if (o.stream) {
    stream = o.client.stream();
    stream.closed.catch(() => {}); // failures surface on the requests in flight
  }
  const requests = o.requests;
  const validate = o.validate === true;
  let next = 0;
  const inner = o.client;
  const infer = async (model: string, _inputs: Tensor[], options: InferOptions = {}): Promise<InferResult> => {
    const index = next;
    next = next + 1 === requests.length ? 0 : next + 1;
    const req = requests[index]!;
    let opts = req.options ? { ...options, ...req.options } : options;
    let inputs = req.inputs;
    let slot = -1;
    if (shm) {
      inputs = shm.inputs[index]!;
      slot = shm.free.pop() ?? -1;
      if (slot < 0) throw Object.assign(new Error("no free shared-memory output slot (more requests in flight than slots)"), { code: "resource_exhausted" });
      opts = { ...opts, outputs: shm.slotOutputs[slot]! };
    }
    try {
      const result = stream ? await streamInfer(stream, model, inputs, opts) : await inner.infer(model, inputs, opts);
      if (validate && req.expected) validateResult(result, req.expected, index, shm?.read);
      return result;
    } finally {
      if (slot >= 0) shm!.free.push(slot);
    }
  };
  const client: InferenceClient = Object.create(inner, { infer: { value: infer } });
  return {
    client,
    inputs: requests[0]!.inputs,
    close: async () => {
      if (stream) {
        stream.end();
        await stream.closed.catch(() => {});
      }
      await shm?.close();
    },
  };
}
