// The reference server over a repository of dense_mlp variants for bench/scheduling.mjs, in its own
// process (so its CPU is not the client's). argv[2]: the repository directory. Imports the server's
// TypeScript sources (Node 24 strips the types), so it needs no fresh dist build.
// argv[3...]: host policies as `iaas serve --host-policy` takes them (NAME,cpu-cores=LIST).
// Prints {"httpUrl", "grpcUrl"} once listening; SIGTERM closes it.
import { startServer } from "../../packages/server-native/src/server.ts";
import { parseHostPolicies } from "../../packages/server-native/src/scheduler/host-policy.ts";

const hostPolicies = parseHostPolicies(process.argv.slice(3));
const server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, metrics: false, modelRepository: process.argv[2], hostPolicies });
process.stdout.write(`${JSON.stringify({ httpUrl: server.httpUrl, grpcUrl: server.grpcUrl, pid: process.pid })}\n`);
process.on("SIGTERM", () => {
  server.close().then(() => process.exit(0));
});
