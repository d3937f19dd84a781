// A TCP peer on 127.0.0.1 that accepts connections and never answers: a server that does not speak HTTP/2
// (or anything), for connect-timeout tests.
import net from "node:net";

export interface SilentPeer {
  /** host:port */
  address: string;
  close(): Promise<void>;
}

export async function startSilentPeer(): Promise<SilentPeer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("data", () => {});
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
