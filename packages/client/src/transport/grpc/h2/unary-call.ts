// One unary gRPC call on node:http2: POST /<service>/<method> with the gRPC headers, the 5-byte length
// prefix written as its own chunk ahead of the message chunks (no join), the answer read by MessageReader,
// the status taken from trailers (or a trailers-only response). Failures reject with grpc-js-shaped errors
// (status.ts): the local deadline as DEADLINE_EXCEEDED, cancellation as CANCELLED, a connection that never
// completed its HTTP/2 handshake as "No connection established" (nothing was sent), one that broke later
// as UNAVAILABLE without response headers (the server may have run the call).
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http2";
import { promisify } from "node:util";
import zlib from "node:zlib";
import type { H2Connection } from "./connection.ts";
import { MessageReader, type AlignProbe } from "./message-reader.ts";
import { NOT_CONNECTED, Status, headerMap, statusError, statusForHttp, statusForRstCode, statusFromHeaders, type GrpcStatusError } from "./status.ts";

export type MessageEncoding = "gzip" | "deflate";

export interface UnaryCallSpec {
  /** e.g. "/inference.GRPCInferenceService/ModelInfer" */
  path: string;
  /** Metadata (already validated) and any extra gRPC headers such as grpc-timeout / grpc-encoding. */
  headers: OutgoingHttpHeaders;
  /** The serialized request, in order; written as separate chunks. */
  message: readonly Uint8Array[];
  /** Compress the request with this algorithm (the grpc-encoding header is added here). */
  encoding?: MessageEncoding | undefined;
  /** Local deadline in ms from now (the grpc-timeout header is the caller's). */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Largest message accepted either way. */
  maxMessageLength: number;
  align?: AlignProbe | undefined;
}

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

const NO_CHUNKS: readonly Uint8Array[] = [];
const DROPPED_SPEC: UnaryCallSpec = { path: "", headers: {}, message: NO_CHUNKS, maxMessageLength: 0 };

const USER_AGENT = `iaas-client-h2 node/${process.versions.node}`;

/** What grpc-js sends with every call (a server may compress answers in any of these). */
const ACCEPT_ENCODING = "identity,deflate,gzip";

export async function unaryCall(connection: H2Connection, spec: UnaryCallSpec): Promise<Buffer> {
  if (spec.encoding === undefined) return send(connection, spec, spec.message, false);
  const plain = spec.message.length === 1 ? spec.message[0]! : Buffer.concat(spec.message);
  const packed = await (spec.encoding === "gzip" ? gzip(plain) : deflate(plain));
  return send(connection, { ...spec, headers: { ...spec.headers, "grpc-encoding": spec.encoding } }, [packed], true);
}

function send(connection: H2Connection, spec: UnaryCallSpec, message: readonly Uint8Array[], compressed: boolean): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let length = 0;
    for (const m of message) length += m.byteLength;
    if (length > spec.maxMessageLength)
      return reject(statusError(Status.RESOURCE_EXHAUSTED, `Sent message larger than max (${length} vs. ${spec.maxMessageLength})`));
    const signal = spec.signal;
    if (signal?.aborted) return reject(statusError(Status.CANCELLED, "Cancelled on client"));
    const session = connection.session();
    const headers: OutgoingHttpHeaders = {
      ...spec.headers,
      ":method": "POST",
      ":path": spec.path,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-accept-encoding": ACCEPT_ENCODING,
      "user-agent": USER_AGENT,
    };
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(headers);
    } catch (e) {
      session.dead = true;
      const established = session.established;
      const why = (e as Error).message;
      return reject(statusError(Status.UNAVAILABLE, established ? `Connection dropped: ${why}` : `${NOT_CONNECTED}. Last error: ${why}`, {}, e));
    }

    const reader = new MessageReader(spec.maxMessageLength, spec.align);
    let settled = false;
    let responseHeaders: IncomingHttpHeaders | undefined;
    let status: { code: number; details: string; metadata: IncomingHttpHeaders } | undefined;
    let streamError: Error | undefined;
    let timer: NodeJS.Timeout | undefined;

    const settle = (error: GrpcStatusError | undefined, value?: Buffer): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (error) reject(error);
      else resolve(value!);
    };
    const abandon = (code: number, details: string): void => {
      settle(statusError(code, details));
      if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
    };
    const onAbort = (): void => abandon(Status.CANCELLED, "Cancelled on client");
    signal?.addEventListener("abort", onAbort, { once: true });
    const t = spec.timeoutMs;
    if (t !== undefined) timer = setTimeout(() => abandon(Status.DEADLINE_EXCEEDED, "Deadline exceeded"), t);

    stream.on("response", (h: IncomingHttpHeaders, flags: number) => {
      responseHeaders = h;
      const s = statusFromHeaders(h);
      if (s && flags & constants.NGHTTP2_FLAG_END_STREAM) status = { ...s, metadata: h };
      else if (Number(h[":status"]) !== 200 && s === undefined) {
        const http = Number(h[":status"]);
        status = { code: statusForHttp(http), details: `Received HTTP status code ${http}`, metadata: h };
      } else if (s) status = { ...s, metadata: h };
    });
    stream.on("trailers", (h: IncomingHttpHeaders) => {
      const s = statusFromHeaders(h);
      if (s && (status === undefined || status.code === Status.OK)) status = { ...s, metadata: { ...responseHeaders, ...h } };
    });
    stream.on("data", (chunk: Buffer) => {
      if (settled) return;
      reader.push(chunk);
      if (reader.problem !== undefined) {
        const code = reader.problem.startsWith("Received message larger") ? Status.RESOURCE_EXHAUSTED : Status.INTERNAL;
        abandon(code, reader.problem);
      }
    });
    stream.on("error", (e: Error) => {
      streamError ??= e;
    });
    stream.once("close", () => {
      if (settled) return;
      if (status === undefined) return settle(missingStatus(stream, session, streamError));
      if (status.code !== Status.OK) return settle(statusError(status.code, status.details, headerMap(status.metadata)));
      const body = reader.message();
      if (body === undefined)
        return settle(statusError(reader.partial ? Status.INTERNAL : Status.UNIMPLEMENTED, reader.partial ? "Truncated message" : "No message received"));
      if (!reader.compressed) return settle(undefined, body);
      const enc = String(responseHeaders?.["grpc-encoding"] ?? "");
      const unpack = enc === "gzip" ? gunzip : enc === "deflate" ? inflate : undefined;
      if (!unpack) return settle(statusError(Status.INTERNAL, `Compressed message received with unsupported grpc-encoding "${enc}"`));
      unpack(body).then(
        (b) => settle(undefined, b),
        (e: Error) => settle(statusError(Status.INTERNAL, `Failed to decompress the response: ${e.message}`)),
      );
    });

    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = compressed ? 1 : 0;
    prefix.writeUInt32BE(length, 1);
    stream.write(prefix);
    const last = message.length - 1;
    for (let i = 0; i < last; i++) stream.write(message[i]);
    if (last >= 0) stream.end(message[last]);
    else stream.end();
    // The listeners above share this function's context: without this they would keep the request's
    // bytes alive until the answer came.
    message = NO_CHUNKS;
    spec = DROPPED_SPEC;
  });
}

/** Why a stream closed without a gRPC status: the connection (never made, or broken) or a reset. */
function missingStatus(
  stream: ClientHttp2Stream,
  session: { established: boolean; dead: boolean; error: Error | undefined },
  streamError: Error | undefined,
): GrpcStatusError {
  const cause = session.error ?? streamError;
  if (!session.established)
    return statusError(Status.UNAVAILABLE, `${NOT_CONNECTED}. Last error: ${cause?.message ?? "Failed to connect"}`, {}, cause);
  if (session.dead || streamError !== undefined || stream.rstCode === undefined || stream.rstCode === constants.NGHTTP2_NO_ERROR) {
    // No metadata: connectionFailure reads an UNAVAILABLE with headers as the server's own answer.
    return statusError(Status.UNAVAILABLE, `Connection dropped${cause ? `: ${cause.message}` : ""}`, {}, cause);
  }
  const s = statusForRstCode(stream.rstCode);
  return statusError(s.code, s.details);
}
