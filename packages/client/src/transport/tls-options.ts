// Checks ClientOptions.tls once, for either transport, with errors that name the field.
import type { ClientTlsOptions, Pem } from "../connection-options.ts";
import { InferenceError } from "../errors.ts";

function isPem(v: unknown): v is Pem {
  return (typeof v === "string" && v.trim() !== "") || (Buffer.isBuffer(v) && v.byteLength > 0);
}

const bad = (message: string): InferenceError => new InferenceError("invalid_argument", `createClient: ${message}`);

export function checkTls(tls: ClientTlsOptions | undefined): ClientTlsOptions | undefined {
  if (tls === undefined) return undefined;
  if (tls === null || typeof tls !== "object") throw bad("tls must be an object { ca?, cert?, key?, servername?, rejectUnauthorized? }");
  if (tls.ca !== undefined && !(Array.isArray(tls.ca) ? tls.ca.length > 0 && tls.ca.every(isPem) : isPem(tls.ca)))
    throw bad("tls.ca must be PEM text or a Buffer (or a non-empty array of them)");
  for (const field of ["cert", "key"] as const)
    if (tls[field] !== undefined && !isPem(tls[field])) throw bad(`tls.${field} must be PEM text or a non-empty Buffer`);
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw bad("tls.cert and tls.key go together (mutual TLS needs both)");
  if (tls.servername !== undefined && (typeof tls.servername !== "string" || tls.servername === "")) throw bad("tls.servername must be a non-empty string");
  if (tls.rejectUnauthorized !== undefined && typeof tls.rejectUnauthorized !== "boolean") throw bad("tls.rejectUnauthorized must be a boolean");
  return tls;
}

/** PEM material as one Buffer (several CA certificates are concatenated, as a bundle file would be). */
export function pemBuffer(pem: Pem | Pem[] | undefined): Buffer | undefined {
  if (pem === undefined) return undefined;
  if (Array.isArray(pem)) return Buffer.concat(pem.map((p) => Buffer.from(typeof p === "string" ? `${p.trimEnd()}\n` : p)));
  return typeof pem === "string" ? Buffer.from(pem) : pem;
}
