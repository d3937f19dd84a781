// A grpc-js ModelInfer peer that holds every call until the test releases it: for tests of what a client
// keeps and does while many calls are in flight. Released calls echo INPUT0 as OUTPUT0 (with the request's
// id); model "missing" is answered NOT_FOUND.
import * as grpc from "@grpc/grpc-js";
import { inferenceServiceClient } from "../../src/transport/grpc/service.ts";

export type HeldRequest = { model_name: string; id: string; raw_input_contents: Buffer[] };
export type Held = { request: HeldRequest; cb: grpc.sendUnaryData<unknown> };

export interface HoldingGrpcPeer {
  url: string;
  /** Calls received and not yet answered, in arrival order (tests may splice them to answer by hand). */
  held: Held[];
  waitFor(n: number): Promise<void>;
  /** Answers everything held, in the given order of indexes into the held list (default: arrival order). */
  release(order?: number[]): void;
  close(): Promise<void>;
}

function answer({ request, cb }: Held): void {
  if (request.model_name === "missing") return cb({ code: grpc.status.NOT_FOUND, details: `no model ${request.model_name}` });
  const raw = request.raw_input_contents[0] ?? Buffer.alloc(0);
  cb(null, { model_name: request.model_name, id: request.id, outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [raw.length / 4] }], raw_output_contents: [raw] });
}

export async function holdingGrpcPeer(): Promise<HoldingGrpcPeer> {
  const service = (inferenceServiceClient() as unknown as { service: grpc.ServiceDefinition }).service;
  const server = new grpc.Server();
  const held: Held[] = [];
  server.addService(service, {
    ModelInfer: (call: grpc.ServerUnaryCall<HeldRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      held.push({ request: call.request, cb });
    },
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  return {
    url: `grpc://127.0.0.1:${port}`,
    held,
    async waitFor(n: number) {
      while (held.length < n) await new Promise((r) => setTimeout(r, 5));
    },
    release(order?: number[]) {
      const all = held.splice(0);
      for (const i of order ?? all.keys()) answer(all[i]!);
    },
    close: async () => server.forceShutdown(),
  };
}
