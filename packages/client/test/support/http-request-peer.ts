// A scripted HTTP/1.1 peer on node:net for client tests: it splits the byte stream into requests
// (head + content-length body), records each one, and hands it to the test's `answer`, which writes
// whatever bytes it wants (or nothing, to hold the request).
import net from "node:net";

export interface SeenRequest {
  head: string;
  /** The request line's target, e.g. "/v2/models/echo/infer". */
  path: string;
  body: Buffer;
  /** The request's raw bytes, head and body. */
  raw: Buffer;
}

export interface HttpRequestPeer {
  url: string;
  port: number;
  /** Every request in arrival order. */
  seen: SeenRequest[];
  close(): Promise<void>;
}

export async function httpRequestPeer(answer: (request: SeenRequest, socket: net.Socket) => void): Promise<HttpRequestPeer> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    // Answers are written in two pieces (head, then body): without this, Nagle holds the second until the
    // client's delayed ACK, about 40 ms per answer.
    socket.setNoDelay(true);
    socket.on("close", () => sockets.delete(socket));
    // A client that gave up on a request (a deadline) closes its connection; an answer held for it then
    // meets a closed socket, which is no failure of the peer.
    socket.on("error", () => {});
    let buf = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.toString("latin1", 0, end);
        const need = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.byteLength < end + 4 + need) return;
        const raw = Buffer.from(buf.subarray(0, end + 4 + need));
        buf = buf.subarray(end + 4 + need);
        const request = { head, path: head.slice(0, head.indexOf("\r\n")).split(" ")[1]!, body: raw.subarray(end + 4), raw };
        seen.push(request);
        answer(request, socket);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
