// The peer for the HTTP protocol-overhead benchmark: a bare node:http server that answers every
// request with fixed, pre-encoded response bytes (the same bytes the reference server returns).
// argv[2]: JSON file {status, headers, bodyBase64}. Prints {"port": N} once listening.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";

const reply = JSON.parse(readFileSync(process.argv[2], "utf8"));
const body = Buffer.from(reply.bodyBase64, "base64");
const headers = { ...reply.headers, "content-length": String(body.length) };

const server = createServer((req, res) => {
  // Read the request body like a real server must, then answer.
  req.on("data", () => {});
  req.on("end", () => {
    res.writeHead(reply.status, headers);
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
