// HPACK's static table (RFC 7541 Appendix A): index 1..61, name and value ("" where it has none).
// prettier-ignore
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  ["", ""], // index 0 is not used
  [":authority", ""], [":method", "GET"], [":method", "POST"], [":path", "/"], [":path", "/index.html"],
  [":scheme", "http"], [":scheme", "https"], [":status", "200"], [":status", "204"], [":status", "206"],
  [":status", "304"], [":status", "400"], [":status", "404"], [":status", "500"], ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"], ["accept-language", ""], ["accept-ranges", ""], ["accept", ""],
  ["access-control-allow-origin", ""], ["age", ""], ["allow", ""], ["authorization", ""], ["cache-control", ""],
  ["content-disposition", ""], ["content-encoding", ""], ["content-language", ""], ["content-length", ""],
  ["content-location", ""], ["content-range", ""], ["content-type", ""], ["cookie", ""], ["date", ""], ["etag", ""],
  ["expect", ""], ["expires", ""], ["from", ""], ["host", ""], ["if-match", ""], ["if-modified-since", ""],
  ["if-none-match", ""], ["if-range", ""], ["if-unmodified-since", ""], ["last-modified", ""], ["link", ""],
  ["location", ""], ["max-forwards", ""], ["proxy-authenticate", ""], ["proxy-authorization", ""], ["range", ""],
  ["referer", ""], ["refresh", ""], ["retry-after", ""], ["server", ""], ["set-cookie", ""],
  ["strict-transport-security", ""], ["transfer-encoding", ""], ["user-agent", ""], ["vary", ""], ["via", ""],
  ["www-authenticate", ""],
];

export const STATIC_COUNT = STATIC_TABLE.length - 1;

/** name -> lowest static index with that name; name -> value -> index of the exact entry (two maps: no
 * "name\0value" string built per lookup). */
export const STATIC_NAME_INDEX = new Map<string, number>();
export const STATIC_PAIRS = new Map<string, Map<string, number>>();
for (let i = STATIC_COUNT; i >= 1; i--) {
  const [name, value] = STATIC_TABLE[i]!;
  STATIC_NAME_INDEX.set(name, i);
  let values = STATIC_PAIRS.get(name);
  if (values === undefined) STATIC_PAIRS.set(name, (values = new Map()));
  values.set(value, i);
}
