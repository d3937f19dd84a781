// HTTP/2 flow-control windows and frame size for the gRPC front end.
//
// grpc-js starts node:http2 with HTTP/2's defaults: 64 KiB stream and connection windows and 16 KiB frames.
// A 64 MiB tensor then crosses as ~4,000 DATA frames, each answered by a WINDOW_UPDATE, which costs the
// sender and the receiver a system call per 16-32 KiB. Triton's gRPC server (gRPC C++) grows its windows by
// bandwidth-delay probing to many MiB; these fixed values give node:http2 the same room.
//
// grpc-js exposes only `grpc.max_concurrent_streams` of the HTTP/2 settings, so the settings go into the
// options it passes to http2.createServer (a private field, present in the pinned grpc-js 1.14) and the
// connection window is raised on each session. Without that field the server keeps grpc-js's defaults and
// says so once; nothing else depends on it.
import type * as grpc from "@grpc/grpc-js";
import type { Http2Server, Http2Session } from "node:http2";

/** Per-stream receive window announced in SETTINGS_INITIAL_WINDOW_SIZE. */
export const STREAM_WINDOW_BYTES = 16 * 1024 * 1024;
/** Connection-level receive window (set with WINDOW_UPDATE on stream 0 once the session starts). */
export const CONNECTION_WINDOW_BYTES = 128 * 1024 * 1024;
/** SETTINGS_MAX_FRAME_SIZE: the largest DATA frame a client may send us (HTTP/2 allows up to 16 MiB - 1). */
export const MAX_FRAME_BYTES = 1024 * 1024;

interface GrpcServerInternals {
  commonServerOptions?: { settings?: Record<string, unknown> };
  http2Servers?: Map<Http2Server, unknown>;
}

/** Before bindAsync: the settings every new HTTP/2 server of this grpc.Server is created with. Returns false when grpc-js has no such field. */
export function widenSettingsBeforeBind(server: grpc.Server): boolean {
  const internals = server as unknown as GrpcServerInternals;
  const common = internals.commonServerOptions;
  if (common === undefined || typeof common !== "object") return false;
  common.settings = { ...common.settings, initialWindowSize: STREAM_WINDOW_BYTES, maxFrameSize: MAX_FRAME_BYTES };
  return true;
}

/** After bindAsync: every session of the bound HTTP/2 servers gets the larger connection window. */
export function widenConnectionWindowAfterBind(server: grpc.Server): boolean {
  const servers = (server as unknown as GrpcServerInternals).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) return false;
  for (const http2Server of servers.keys()) http2Server.on("session", widenSession);
  return true;
}

function widenSession(session: Http2Session): void {
  // Before the handshake completes the window cannot be sent yet; node:http2 queues nothing for it.
  if (session.connecting) session.once("connect", () => setWindow(session));
  else setWindow(session);
}

function setWindow(session: Http2Session): void {
  if (session.destroyed || session.closed) return;
  try {
    session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
  } catch {
    // A session torn down between the check and the call: nothing to widen.
  }
}
