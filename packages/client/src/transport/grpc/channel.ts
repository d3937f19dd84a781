// grpc-js channel credentials and options from the client's TLS, compression and keepalive settings.
import * as grpc from "@grpc/grpc-js";
import type { ClientTlsOptions, Compression, GrpcConnectionOptions } from "../../connection-options.ts";
import { checkMs } from "../option-checks.ts";
import { pemBuffer } from "../tls-options.ts";
import { MAX_MESSAGE_LENGTH } from "./service.ts";

export function channelCredentials(secure: boolean, tls: ClientTlsOptions | undefined): grpc.ChannelCredentials {
  if (!secure) return grpc.credentials.createInsecure();
  const verify: grpc.VerifyOptions = {};
  if (tls?.rejectUnauthorized !== undefined) verify.rejectUnauthorized = tls.rejectUnauthorized;
  return grpc.credentials.createSsl(pemBuffer(tls?.ca) ?? null, pemBuffer(tls?.key) ?? null, pemBuffer(tls?.cert) ?? null, verify);
}

const COMPRESSION_ALGORITHM: Record<Compression, number> = { none: 0, deflate: 1, gzip: 2 };

export interface ChannelSettings {
  tls?: ClientTlsOptions | undefined;
  compression?: Compression | undefined;
  grpc?: GrpcConnectionOptions | undefined;
}

export function channelOptions(s: ChannelSettings): grpc.ChannelOptions {
  const options: grpc.ChannelOptions = {
    "grpc.max_send_message_length": MAX_MESSAGE_LENGTH,
    "grpc.max_receive_message_length": MAX_MESSAGE_LENGTH,
  };
  if (s.compression !== undefined && s.compression !== "none") options["grpc.default_compression_algorithm"] = COMPRESSION_ALGORITHM[s.compression];
  if (s.tls?.servername !== undefined) options["grpc.ssl_target_name_override"] = s.tls.servername;
  const g = s.grpc ?? {};
  checkMs("grpc.keepaliveTimeMs", g.keepaliveTimeMs, false);
  checkMs("grpc.keepaliveTimeoutMs", g.keepaliveTimeoutMs, false);
  if (g.keepaliveTimeMs !== undefined) options["grpc.keepalive_time_ms"] = g.keepaliveTimeMs;
  if (g.keepaliveTimeoutMs !== undefined) options["grpc.keepalive_timeout_ms"] = g.keepaliveTimeoutMs;
  if (g.keepalivePermitWithoutCalls !== undefined) options["grpc.keepalive_permit_without_calls"] = g.keepalivePermitWithoutCalls ? 1 : 0;
  return g.channelOptions ? { ...options, ...g.channelOptions } : options;
}
