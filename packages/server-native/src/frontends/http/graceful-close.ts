// Closing an HTTP front end without dropping requests in flight and without waiting on clients that
// merely hold connections: keep-alive connections between requests are closed by closeIdleConnections(),
// but node does not count a connection that has not sent a request yet as idle (it waits for its
// headers), and clients open such connections ahead of need (connection pools). Those are tracked here
// and closed at shutdown; a connection that carried a request is left to node's idle handling.
import type { IncomingMessage, Server } from "node:http";
import type { Socket } from "node:net";

const SERVED = Symbol("iaas.servedRequest");
type TrackedSocket = Socket & { [SERVED]?: true };

export interface ConnectionTracker {
  /** Marks the request's connection as one that carried a request (call once per request). */
  served(req: IncomingMessage): void;
  /** Ends every idle connection and every connection that never sent a request. */
  closeUnused(): void;
}

export function trackConnections(http: Server, tls: boolean): ConnectionTracker {
  const sockets = new Set<TrackedSocket>();
  http.on(tls ? "secureConnection" : "connection", (socket: TrackedSocket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  return {
    served: (req) => {
      (req.socket as TrackedSocket)[SERVED] = true;
    },
    closeUnused: () => {
      http.closeIdleConnections();
      for (const s of sockets) if (s[SERVED] !== true && s.bytesRead === 0) s.destroy();
    },
  };
}
