// The reference server in its own process for the client benchmarks (so its CPU is not the client's).
// argv[2]: largest HTTP body in bytes (default 64 MiB; the 64 MiB tensor benchmark needs more).
// Prints {"httpUrl", "grpcUrl"} once listening; SIGTERM closes it.
import { startServer } from "@iaas/server-native";

const maxBodyBytes = Number(process.argv[2] ?? 64 * 2 ** 20);
const server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, maxBodyBytes });
process.stdout.write(`${JSON.stringify({ httpUrl: server.httpUrl, grpcUrl: server.grpcUrl, pid: process.pid })}\n`);
process.on("SIGTERM", () => {
  server.close().then(() => process.exit(0));
});
