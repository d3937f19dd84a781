// `iaas serve` flags for TLS, mutual TLS and bearer-token authentication, turned into startServer's
// `tls` and `auth` options (files are read here, so a bad path fails before any port opens).
import { readFileSync } from "node:fs";
import { Option, type Command } from "commander";
import type { ServerAuthOptions, ServerTlsOptions } from "@iaas/server-native";
import { UsageError } from "./errors.ts";

export interface ServeSecurityFlags {
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsRequireClientCert?: boolean;
  authToken?: string[];
  authTokenFile?: string[];
  authAllowHealth?: boolean;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function addServeSecurityOptions(command: Command): Command {
  return command
    .option("--tls-cert <file>", "server certificate chain (PEM); with --tls-key serves HTTPS and gRPC over TLS")
    .option("--tls-key <file>", "private key of --tls-cert (PEM)")
    .option("--tls-ca <file>", "CA bundle (PEM) client certificates must chain to: turns on mutual TLS")
    .option("--tls-require-client-cert", "refuse clients without a certificate from --tls-ca (default when --tls-ca is given)")
    .option("--no-tls-require-client-cert", "with --tls-ca: do not request client certificates")
    .option("--auth-token <token>", "accept `Authorization: Bearer <token>` (repeatable); other requests get 401 / UNAUTHENTICATED", collect)
    .option("--auth-token-file <file>", "file with one accepted bearer token per line (repeatable; blank lines and # comments ignored)", collect)
    .addOption(new Option("--auth-allow-health", "with tokens: let health checks (v2/health/*, ServerLive/Ready, grpc.health.v1) through without one"));
}

function readFlagFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read ${flag} file '${file}': ${(err as Error).message}`);
  }
}

export function serveSecurityOptions(flags: ServeSecurityFlags): { tls?: ServerTlsOptions; auth?: ServerAuthOptions } {
  const out: { tls?: ServerTlsOptions; auth?: ServerAuthOptions } = {};
  if (flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    if (flags.tlsCert === undefined || flags.tlsKey === undefined) throw new UsageError("--tls-cert and --tls-key go together: give both");
    out.tls = { cert: readFlagFile("--tls-cert", flags.tlsCert), key: readFlagFile("--tls-key", flags.tlsKey) };
    if (flags.tlsCa !== undefined) out.tls.ca = readFlagFile("--tls-ca", flags.tlsCa);
    if (flags.tlsRequireClientCert !== undefined) out.tls.requireClientCert = flags.tlsRequireClientCert;
  } else if (flags.tlsCa !== undefined || flags.tlsRequireClientCert !== undefined) {
    throw new UsageError("--tls-ca and --tls-require-client-cert need --tls-cert and --tls-key");
  }
  const tokens = [...(flags.authToken ?? [])];
  for (const file of flags.authTokenFile ?? []) {
    const lines = readFlagFile("--auth-token-file", file).toString("utf8").split(/\r?\n/);
    const found = lines.map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
    if (found.length === 0) throw new Error(`--auth-token-file '${file}' holds no token (one per line)`);
    tokens.push(...found);
  }
  for (const t of tokens) if (/\s/.test(t)) throw new UsageError(`bearer tokens cannot contain whitespace: '${t.slice(0, 8)}...'`);
  if (tokens.length > 0) out.auth = { bearerTokens: tokens, allowUnauthenticatedHealth: flags.authAllowHealth === true };
  else if (flags.authAllowHealth) throw new UsageError("--auth-allow-health needs --auth-token or --auth-token-file");
  return out;
}
