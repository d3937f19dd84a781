// Transparent proxies that sit between a client and the real reference server and record what crossed
// the wire (headers, raw bodies, client connections, HTTP/2 pings), so tests can check what the client
// actually sent and what the server actually answered, compressed bytes included.
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import {
  connect as http2Connect,
  createServer as createHttp2Server,
  type IncomingHttpHeaders as Http2Headers,
  type OutgoingHttpHeaders,
} from "node:http2";
import type { AddressInfo, Socket } from "node:net";

export interface HttpExchange {
  method: string;
  path: string;
  requestHeaders: IncomingHttpHeaders;
  /** Request body as sent by the client (still compressed, if it was). */
  requestBody: Buffer;
  status: number;
  responseHeaders: IncomingHttpHeaders;
  /** Response body as sent by the server (still compressed, if it was). */
  responseBody: Buffer;
}

export interface HttpRecordingProxy {
  url: string;
  exchanges: HttpExchange[];
  /** Client connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/** HTTP/1.1 proxy to `target` (http://host:port); bodies pass through byte for byte. */
export async function startHttpRecordingProxy(target: string): Promise<HttpRecordingProxy> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  const state: HttpRecordingProxy = { url: "", exchanges: [], connections: 0, close: async () => {} };
  const server = createHttpServer((req, res) => {
    const requestBody: Buffer[] = [];
    req.on("data", (c: Buffer) => requestBody.push(c));
    req.on("end", () => {
      const body = Buffer.concat(requestBody);
      const up = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (ur) => {
          const responseBody: Buffer[] = [];
          ur.on("data", (c: Buffer) => responseBody.push(c));
          ur.on("end", () => {
            const raw = Buffer.concat(responseBody);
            state.exchanges.push({
              method: req.method!,
              path: req.url!,
              requestHeaders: req.headers,
              requestBody: body,
              status: ur.statusCode!,
              responseHeaders: ur.headers,
              responseBody: raw,
            });
            res.writeHead(ur.statusCode!, ur.headers);
            res.end(raw);
          });
        },
      );
      up.on("error", (err) => res.destroy(err));
      up.end(body);
    });
  });
  server.on("connection", (s: Socket) => {
    state.connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return state;
}

export interface GrpcCall {
  path: string;
  headers: Http2Headers;
  /** Raw request DATA: gRPC length-prefixed messages (byte 0 of each is its compressed flag). */
  body: Buffer;
}

export interface GrpcRecordingProxy {
  /** host:port to give a plaintext gRPC client. */
  address: string;
  calls: GrpcCall[];
  /** PING frames received from clients. */
  pings: number;
  close(): Promise<void>;
}

/** Plaintext HTTP/2 (h2c) proxy to a gRPC server at `target` (host:port). */
export async function startGrpcRecordingProxy(target: string): Promise<GrpcRecordingProxy> {
  const upstream = http2Connect(`http://${target}`);
  upstream.on("error", () => {});
  const state: GrpcRecordingProxy = { address: "", calls: [], pings: 0, close: async () => {} };
  const server = createHttp2Server();
  server.on("session", (session) => session.on("ping", () => state.pings++));
  server.on("stream", (stream, headers) => {
    const out: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(":") || k === ":method" || k === ":path") out[k] = v;
    const call: GrpcCall = { path: String(headers[":path"]), headers, body: Buffer.alloc(0) };
    const chunks: Buffer[] = [];
    const up = upstream.request(out, { endStream: false });
    let trailers: OutgoingHttpHeaders = {};
    stream.on("data", (c: Buffer) => {
      chunks.push(c);
      up.write(c);
    });
    stream.on("end", () => {
      call.body = Buffer.concat(chunks);
      state.calls.push(call);
      up.end();
    });
    up.on("response", (h) => {
      const reply: OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(":") || k === ":status") reply[k] = v;
      stream.respond(reply, { waitForTrailers: true });
    });
    up.on("data", (c: Buffer) => stream.write(c));
    up.on("trailers", (t) => (trailers = { ...t }));
    up.on("end", () => stream.end());
    stream.on("wantTrailers", () => stream.sendTrailers(trailers));
    up.on("error", () => stream.destroy());
    stream.on("error", () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((r) => {
      upstream.destroy();
      server.close(() => r());
      // Sessions the client keeps open would hold close() until they end.
      setTimeout(r, 200).unref();
    });
  return state;
}
