// The peer for the gRPC protocol-overhead benchmark: a bare grpc-js server whose ModelInfer answers every
// call with fixed, pre-encoded ModelInferResponse bytes (the bytes the reference server returns), with
// pass-through (de)serializers: no protobuf decode or encode, no validation, no compute.
// argv[2]: file holding the response message bytes. Prints {"port": N} once listening.
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";

const reply = readFileSync(process.argv[2]);
const passThrough = (b) => b;
const server = new grpc.Server({ "grpc.max_receive_message_length": 2 ** 31 - 1, "grpc.max_send_message_length": 2 ** 31 - 1 });
server.addService(
  {
    ModelInfer: {
      path: "/inference.GRPCInferenceService/ModelInfer",
      requestStream: false,
      responseStream: false,
      requestSerialize: passThrough,
      requestDeserialize: passThrough,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
    },
  },
  { ModelInfer: (_call, callback) => callback(null, reply) },
);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
