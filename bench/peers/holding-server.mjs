// Peer for the in-flight memory benchmark: a KServe v2 endpoint (HTTP and gRPC) that holds every infer
// request without answering until told to, so a client can have thousands of requests in flight.
// argv[2]: how many held requests to announce. Prints {"httpPort", "grpcPort"} once listening, then
// {"held": N} when N requests are held. A line "release" on stdin answers everything held and everything
// after it at once; every answer is the same small FP32 output.
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { PROTO_DIR } from "@iaas/client/protocol";

const announceAt = Number(process.argv[2] ?? 10_000);
const output = Buffer.from(new Float32Array(4).fill(1).buffer);
const header = Buffer.from(
  JSON.stringify({ model_name: "held", model_version: "1", outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [4], parameters: { binary_data_size: output.length } }] }),
);
const httpBody = Buffer.concat([header, output]);
const grpcReply = {
  model_name: "held",
  model_version: "1",
  outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [4] }],
  raw_output_contents: [output],
};

let released = false;
let held = [];
let announced = false;
function hold(answer) {
  if (released) return answer();
  held.push(answer);
  if (!announced && held.length >= announceAt) {
    announced = true;
    process.stdout.write(`${JSON.stringify({ held: held.length })}\n`);
  }
}

const http = createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () =>
    hold(() => {
      res.writeHead(200, { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length), "content-length": String(httpBody.length) });
      res.end(httpBody);
    }),
  );
});
http.keepAliveTimeout = 60_000;
http.maxRequestsPerSocket = 0;

const def = protoLoader.loadSync("grpc_service.proto", { keepCase: true, longs: String, enums: String, includeDirs: [PROTO_DIR] });
const service = grpc.loadPackageDefinition(def).inference.GRPCInferenceService.service;
const grpcServer = new grpc.Server({ "grpc.max_concurrent_streams": 1_000_000, "grpc.max_receive_message_length": 2 ** 31 - 1 });
grpcServer.addService(service, { ModelInfer: (_call, callback) => hold(() => callback(null, grpcReply)) });

await new Promise((r) => http.listen(0, "127.0.0.1", r));
const grpcPort = await new Promise((resolve, reject) =>
  grpcServer.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))),
);
process.stdout.write(`${JSON.stringify({ httpPort: http.address().port, grpcPort })}\n`);

createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() !== "release") return;
  released = true;
  const all = held;
  held = [];
  for (const answer of all) answer();
});
process.on("SIGTERM", () => {
  http.closeAllConnections();
  http.close();
  grpcServer.forceShutdown();
  process.exit(0);
});
