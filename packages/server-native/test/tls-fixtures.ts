// Throw-away PKI for TLS tests, made with the openssl CLI (EC P-256 keys: fast): a CA, a server
// certificate for localhost / 127.0.0.1 / ::1, a client certificate, and a second, unrelated CA with a
// client certificate of its own (for "wrong CA" cases). Other packages' tests import this by relative path.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPki {
  dir: string;
  /** The CA that signed serverCert and clientCert (PEM). */
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  /** An unrelated CA, and a client certificate it signed. */
  otherCa: Buffer;
  otherClientCert: Buffer;
  otherClientKey: Buffer;
  /** Paths of the files above, e.g. for CLI flags. */
  files: Record<"ca" | "serverCert" | "serverKey" | "clientCert" | "clientKey" | "otherCa", string>;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(`openssl ${args.join(" ")} failed: ${(err as Error).message}\n${stderr}`);
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    "req", "-x509", ...EC, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=iaas test ${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

function makeLeaf(dir: string, name: string, ca: string, cn: string, extensions: string): void {
  openssl(dir, ["req", "-new", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    "x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial",
    "-days", "2", "-out", `${name}.crt`, "-extfile", `${name}.ext`,
  ]);
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "iaas-pki-"));
  try {
    makeCa(dir, "ca");
    makeCa(dir, "other-ca");
    makeLeaf(dir, "server", "ca", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n");
    makeLeaf(dir, "client", "ca", "iaas-test-client", "extendedKeyUsage=clientAuth\n");
    makeLeaf(dir, "other-client", "other-ca", "iaas-rogue-client", "extendedKeyUsage=clientAuth\n");
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const path = (f: string): string => join(dir, f);
  const read = (f: string): Buffer => readFileSync(path(f));
  return {
    dir,
    ca: read("ca.crt"),
    serverCert: read("server.crt"),
    serverKey: read("server.key"),
    clientCert: read("client.crt"),
    clientKey: read("client.key"),
    otherCa: read("other-ca.crt"),
    otherClientCert: read("other-client.crt"),
    otherClientKey: read("other-client.key"),
    files: {
      ca: path("ca.crt"),
      serverCert: path("server.crt"),
      serverKey: path("server.key"),
      clientCert: path("client.crt"),
      clientKey: path("client.key"),
      otherCa: path("other-ca.crt"),
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
