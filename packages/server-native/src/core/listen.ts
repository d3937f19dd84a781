// Starts a node:net-based server (HTTP, HTTPS, metrics) listening; a bind failure (port taken, bad host)
// rejects instead of surfacing as an unhandled 'error' event.
import type { AddressInfo, Server } from "node:net";

/** Listens on host:port (0: a free port) and resolves with the port bound. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
