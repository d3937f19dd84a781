// A gRPC unary call written frame by frame with node:http2, for tests that need control over what grpc-js
// clients never send: a message split across DATA frames at chosen points, odd flags and prefixes, two
// messages, no message, bad grpc-timeout values. Also the ModelInfer message codec from the protos.
import { connect, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http2";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { PROTO_DIR, PROTO_FILES } from "@iaas/client/protocol";

const definition = protoLoader.loadSync(
  PROTO_FILES.map((f) => join(PROTO_DIR, f)),
  { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] },
);
const inferMethod = (grpc.loadPackageDefinition(definition) as any).inference.GRPCInferenceService.service.ModelInfer;
export const encodeInferRequest = inferMethod.requestSerialize as (request: object) => Buffer;
export const decodeInferResponse = inferMethod.responseDeserialize as (bytes: Buffer) => any;

/** flag byte + 4-byte big-endian length + message. */
export function grpcFrame(message: Buffer, flag = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = flag;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

export interface RawReply {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  body: Buffer;
  /** grpc-status from the trailers, or from the headers of a trailers-only answer. */
  status: number;
  /** grpc-message as sent (percent-encoded). */
  message: string;
}

export interface RawCallOptions {
  /** Extra or replacing request headers. */
  headers?: OutgoingHttpHeaders;
  /** Written one by one, each in its own DATA frame (a short pause between them). */
  chunks: Buffer[];
  path?: string;
}

/** A session to a server's grpcUrl ("host:port", or "grpcs://host:port" with the CA that signed its certificate). */
export function rawSession(grpcUrl: string, ca?: Buffer): ClientHttp2Session {
  return grpcUrl.startsWith("grpcs://") ? connect(`https://${grpcUrl.slice(8)}`, { ca }) : connect(`http://${grpcUrl}`);
}

export async function rawCall(session: ClientHttp2Session, options: RawCallOptions): Promise<RawReply> {
  const stream = session.request({
    ":method": "POST",
    ":path": options.path ?? "/inference.GRPCInferenceService/ModelInfer",
    "content-type": "application/grpc",
    te: "trailers",
    ...options.headers,
  });
  let headers: IncomingHttpHeaders = {};
  let trailers: IncomingHttpHeaders = {};
  const body: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    stream.on("response", (h) => (headers = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (d: Buffer) => body.push(d));
    stream.on("close", resolve);
    stream.on("error", reject);
  });
  for (const [i, chunk] of options.chunks.entries()) {
    if (stream.closed) break;
    if (i > 0) await sleep(5);
    stream.write(chunk);
  }
  if (!stream.closed) stream.end();
  await done;
  const statusText = trailers["grpc-status"] ?? headers["grpc-status"];
  return {
    headers,
    trailers,
    body: Buffer.concat(body),
    status: statusText === undefined ? -1 : Number(statusText),
    message: String(trailers["grpc-message"] ?? headers["grpc-message"] ?? ""),
  };
}

/** The one message of a successful unary answer's body. */
export function answerMessage(reply: RawReply): Buffer {
  if (reply.body.length < 5) throw new Error(`answer body of ${reply.body.length} bytes has no gRPC frame`);
  const length = reply.body.readUInt32BE(1);
  if (reply.body.length !== 5 + length) throw new Error(`answer body of ${reply.body.length} bytes holds more or less than one ${length}-byte message`);
  return reply.body.subarray(5);
}
