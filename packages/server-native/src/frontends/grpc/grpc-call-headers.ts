// Header values of a gRPC call that the ModelInfer fast path reads or writes itself (grpc-js does the
// same for the calls it serves): the grpc-timeout deadline and the percent-encoded grpc-message.

// As grpc-js reads grpc-timeout (1-8 digits and a unit), so a value means the same on either path.
const TIMEOUT = /(\d{1,8})\s*([HMSmun])/;
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** Longest delay a Node timer takes (about 24.8 days); a later deadline needs no timer. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Whole milliseconds until the call's deadline, or undefined when the value is not a grpc-timeout. Values
 * beyond 32 bits stay exact (grpc-js truncates them to int32, so "99999999H" can come out negative).
 */
export function grpcTimeoutMs(value: string): number | undefined {
  const m = TIMEOUT.exec(value);
  if (m === null) return undefined;
  return Math.floor(Number(m[1]) * UNIT_MS[m[2]!]!);
}

/**
 * grpc-message as the gRPC spec encodes it: printable ASCII except '%' as is, every other byte of the
 * UTF-8 text as %XX (grpc-js's and our clients' decoders both read it).
 */
export function encodeGrpcMessage(text: string): string {
  let plain = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return text;
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  return out;
}
