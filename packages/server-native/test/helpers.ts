// Shared helpers for the server tests: temporary model repositories, raw HTTP calls and a raw gRPC
// client built from the protos (deliberately not @iaas/client, so the server is tested on its own).
import { copyFileSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { after, before } from "node:test";
import { DATATYPES, PROTO_DIR, PROTO_FILES, toConfigDataType } from "@iaas/client/protocol";
import { DEFAULT_MODEL_REPOSITORY, startServer, type RunningServer, type StartServerOptions } from "../src/server.ts";

/** A throw-away model repository; `models` maps folder name -> config.pbtxt text. */
export function tempRepository(models: Record<string, string>): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "iaas-models-"));
  for (const [name, config] of Object.entries(models)) {
    mkdirSync(join(dir, name, "1"), { recursive: true });
    writeFileSync(join(dir, name, "config.pbtxt"), config);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A repository holding the shipped dense_mlp (config and the labels file it names). */
export function denseMlpRepository(): { dir: string; remove(): void } {
  const shipped = join(DEFAULT_MODEL_REPOSITORY, "dense_mlp");
  const repo = tempRepository({ dense_mlp: readFileSync(join(shipped, "config.pbtxt"), "utf8") });
  copyFileSync(join(shipped, "labels.txt"), join(repo.dir, "dense_mlp", "labels.txt"));
  return repo;
}

/** Counts the requests that reach the server's core (so a test can wait until all are really inside). */
export function countArrivals(srv: RunningServer): { readonly count: number } {
  const counter = { count: 0 };
  const infer = srv.server.infer.bind(srv.server);
  srv.server.infer = (...args) => {
    counter.count++;
    return infer(...args);
  };
  return counter;
}

export function identityConfig(name: string, dataType: string, extra = ""): string {
  return `name: "${name}"
backend: "identity"
max_batch_size: 0
input [ { name: "INPUT0", data_type: ${dataType}, dims: [ -1 ] } ]
output [ { name: "OUTPUT0", data_type: ${dataType}, dims: [ -1 ] } ]
instance_group [ { kind: KIND_CPU, count: 1 } ]
${extra}`;
}

/** identity_<datatype> for every KServe datatype. */
export function identityModels(): Record<string, string> {
  const models: Record<string, string> = {};
  for (const dt of DATATYPES) models[`identity_${dt.toLowerCase()}`] = identityConfig(`identity_${dt.toLowerCase()}`, toConfigDataType(dt));
  return models;
}

export interface HttpReply {
  status: number;
  headers: Headers;
  body: Buffer;
  json(): any;
}

export async function http(base: string, path: string, init?: { method?: string; body?: string | Uint8Array; headers?: Record<string, string> }): Promise<HttpReply> {
  const res = await fetch(base + path, {
    method: init?.method ?? (init?.body !== undefined ? "POST" : "GET"),
    body: init?.body,
    headers: init?.headers,
  });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, json: () => JSON.parse(body.toString("utf8")) };
}

export const postJson = (base: string, path: string, body: unknown): Promise<HttpReply> => http(base, path, { body: JSON.stringify(body) });

/** JSON header + binary blobs, as the binary tensor extension frames a request. */
export function binaryBody(header: unknown, blobs: Uint8Array[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...blobs]), headerLength: json.byteLength };
}

/** Splits a binary response into its JSON header and the blob of each binary output, by name. */
export function splitBinaryResponse(reply: HttpReply): { header: any; blobs: Map<string, Buffer> } {
  const n = Number(reply.headers.get("inference-header-content-length"));
  const header = JSON.parse(reply.body.subarray(0, n).toString("utf8"));
  const blobs = new Map<string, Buffer>();
  let off = n;
  for (const o of header.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    blobs.set(o.name, reply.body.subarray(off, off + size));
    off += size;
  }
  if (off !== reply.body.byteLength) throw new Error(`binary response has ${reply.body.byteLength - off} unclaimed bytes`);
  return { header, blobs };
}

export interface GrpcTestClient {
  call<T = any>(rpc: string, request: object): Promise<T>;
  health(service?: string): Promise<any>;
  raw: any;
  close(): void;
}

export function grpcClient(address: string): GrpcTestClient {
  const def = protoLoader.loadSync(
    PROTO_FILES.map((f) => join(PROTO_DIR, f)),
    { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] },
  );
  const pkg = grpc.loadPackageDefinition(def) as any;
  const options = { "grpc.max_receive_message_length": -1, "grpc.max_send_message_length": -1 };
  const client = new pkg.inference.GRPCInferenceService(address, grpc.credentials.createInsecure(), options);
  const health = new pkg.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  const unary = (target: any, rpc: string, request: object): Promise<any> =>
    new Promise((resolve, reject) => target[rpc](request, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res))));
  return {
    call: (rpc, request) => unary(client, rpc, request),
    health: (service = "") => unary(health, "Check", { service }),
    raw: client,
    close: () => {
      client.close();
      health.close();
    },
  };
}

/**
 * A server on a throw-away repository for the enclosing test file or suite, with a raw gRPC client:
 * started in `before`, closed (client, server, repository) in `after`. `dir` is the repository, there at
 * once, so files can be added before the server starts. `options` go to startServer (ports
 * default to 0).
 */
export function serveForSuite(
  models: Record<string, string>,
  options: Omit<StartServerOptions, "modelRepository"> = {},
): { readonly dir: string; readonly srv: RunningServer; readonly client: GrpcTestClient } {
  const repo = tempRepository(models);
  let srv: RunningServer | undefined;
  let client: GrpcTestClient | undefined;
  before(async () => {
    srv = await startServer({ httpPort: 0, grpcPort: 0, ...options, modelRepository: repo.dir });
    client = grpcClient(srv.grpcUrl);
  });
  after(async () => {
    client?.close();
    await srv?.close();
    repo.remove();
  });
  return {
    dir: repo.dir,
    get srv() {
      if (!srv) throw new Error("serveForSuite: server not started yet (use it inside tests)");
      return srv;
    },
    get client() {
      if (!client) throw new Error("serveForSuite: client not created yet (use it inside tests)");
      return client;
    },
  };
}
