// Mutual TLS and a bearer token end to end: starts the reference server in-process with TLS on both
// ports, client certificates required and a token, then runs `simple` over https:// and grpcs://.
//   node examples/tls-infer.ts [CERT_DIR]
// CERT_DIR holds ca.crt, server.crt, server.key, client.crt and client.key (PEM). Without it, a
// throw-away CA and certificates are made with the openssl CLI in a temporary folder, like this:
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -subj /CN=demo-ca
//   openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj /CN=localhost
//   openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -extfile <(echo subjectAltName=DNS:localhost,IP:127.0.0.1)
//   (client.key / client.crt the same way, with extendedKeyUsage=clientAuth)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, InferenceError, Tensor } from "@iaas/client";
import { startServer } from "@iaas/server-native";

function makeCertificates(dir: string): void {
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=iaas example CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign");
  for (const [name, cn, ext] of [
    ["server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"],
    ["client", "iaas-example-client", "extendedKeyUsage=clientAuth\n"],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    run("req", "-new", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    run("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
      "-out", `${name}.crt`, "-extfile", `${name}.ext`);
  }
}

const given = process.argv[2];
const dir = given ?? mkdtempSync(join(tmpdir(), "iaas-tls-example-"));
let server: Awaited<ReturnType<typeof startServer>> | undefined;
try {
  if (!given) makeCertificates(dir);
  const pem = (file: string): Buffer => {
    try {
      return readFileSync(join(dir, file));
    } catch {
      throw new Error(`${join(dir, file)} is missing; CERT_DIR needs ca.crt, server.crt, server.key, client.crt, client.key`);
    }
  };
  const token = "example-token";
  server = await startServer({
    httpPort: 0,
    grpcPort: 0,
    tls: { cert: pem("server.crt"), key: pem("server.key"), ca: pem("ca.crt") }, // ca: client certificates required
    auth: { bearerTokens: [token] },
  });
  console.log(`server: ${server.httpUrl} and ${server.grpcUrl} (mutual TLS, bearer token)`);

  const tls = { ca: pem("ca.crt"), cert: pem("client.crt"), key: pem("client.key") };
  const input0 = new Tensor("INPUT0", "INT32", [1, 16], Int32Array.from({ length: 16 }, (_, i) => i));
  const input1 = new Tensor("INPUT1", "INT32", [1, 16], new Int32Array(16).fill(1));
  // By name rather than 127.0.0.1: the certificate lists both, but TLS sends the name as SNI and Node
  // warns (DEP0123) when grpc-js would send an IP address there.
  for (const url of [`https://localhost:${server.httpPort}`, `grpcs://localhost:${server.grpcPort}`]) {
    const client = createClient({ url, tls, auth: { bearer: token }, timeoutMs: 10_000 });
    try {
      const result = await client.infer("simple", [input0, input1]);
      console.log(`${url.split(":")[0]}: OUTPUT0 = [${Array.from(result.output("OUTPUT0").data as Int32Array).join(", ")}]`);
    } finally {
      await client.close();
    }
  }
} catch (err) {
  const e = err instanceof Error && !(err instanceof InferenceError) ? err : InferenceError.from(err);
  console.error(`tls-infer: ${e instanceof InferenceError ? `${e.code}: ` : ""}${e.message}`);
  process.exitCode = 1;
} finally {
  await server?.close();
  if (!given) rmSync(dir, { recursive: true, force: true });
}
