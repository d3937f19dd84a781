// HPACK's Huffman code (RFC 7541 Appendix B). The code is canonical: within one code length, codes rise
// with the symbol value, and each length's first code follows the previous length's last. So the bit
// length of each of the 257 symbols is all the table needs; the codes are rebuilt from them here.

/** Code length in bits of symbols 0..255 and EOS (256), from RFC 7541 Appendix B. */
// prettier-ignore
const LENGTHS: readonly number[] = [
  // 0-31: control characters
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  // 32-63: ' ' ! " # $ % & ' ( ) * + , - . / 0-9 : ; < = > ?
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  // 64-95: @ A-Z [ \ ] ^ _
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  // 96-127: ` a-z { | } ~ DEL
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  // 128-255
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  // 256: EOS
  30,
];

export const EOS = 256;
const MAX_LENGTH = 30;

/** Per code length: the first code, how many codes, and where its symbols start in SYMBOLS. */
const FIRST_CODE = new Int32Array(MAX_LENGTH + 2);
const COUNT = new Int32Array(MAX_LENGTH + 2);
const OFFSET = new Int32Array(MAX_LENGTH + 2);
/** Symbols ordered by (code length, symbol value): canonical order. */
const SYMBOLS = new Uint16Array(257);
/** Each symbol's code (for tests and the encoder's use). */
export const CODES = new Uint32Array(257);
export const CODE_LENGTHS: readonly number[] = LENGTHS;

(function build(): void {
  if (LENGTHS.length !== 257) throw new Error(`Huffman table has ${LENGTHS.length} lengths, expected 257`);
  for (const len of LENGTHS) COUNT[len]!++;
  let code = 0;
  let offset = 0;
  for (let len = 1; len <= MAX_LENGTH; len++) {
    FIRST_CODE[len] = code;
    OFFSET[len] = offset;
    offset += COUNT[len]!;
    code = (code + COUNT[len]!) * 2;
  }
  const next = Int32Array.from(OFFSET);
  for (let sym = 0; sym < 257; sym++) {
    const len = LENGTHS[sym]!;
    const at = next[len]!++;
    SYMBOLS[at] = sym;
    CODES[sym] = FIRST_CODE[len]! + (at - OFFSET[len]!);
  }
})();

export class HuffmanError extends Error {}

/**
 * Decodes `buf[start, end)` to a latin1 string. Padding (fewer than 8 bits, all ones: the EOS prefix) is
 * accepted at the end only; an EOS symbol or other trailing bits are errors (RFC 7541 section 5.2).
 */
export function huffmanDecode(buf: Uint8Array, start: number, end: number): string {
  const out: number[] = [];
  let code = 0;
  let len = 0;
  for (let i = start; i < end; i++) {
    const byte = buf[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      len++;
      const index = code - FIRST_CODE[len]!;
      if (index < COUNT[len]!) {
        const sym = SYMBOLS[OFFSET[len]! + index]!;
        if (sym === EOS) throw new HuffmanError("Huffman-coded string contains EOS");
        out.push(sym);
        code = 0;
        len = 0;
      } else if (len >= MAX_LENGTH) throw new HuffmanError("invalid Huffman code");
    }
  }
  if (len > 7) throw new HuffmanError(`Huffman padding longer than 7 bits (${len})`);
  if (code !== (1 << len) - 1) throw new HuffmanError("Huffman padding is not a prefix of EOS");
  return String.fromCharCode.apply(null, out);
}

/** Huffman-encodes a latin1 string (tests use it to build inputs; the client's encoder sends literals raw). */
export function huffmanEncode(text: string): Buffer {
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const sym = text.charCodeAt(i) & 0xff;
    let len = LENGTHS[sym]!;
    const code = CODES[sym]!;
    while (len > 0) {
      const take = Math.min(len, 8 - bits);
      acc = (acc << take) | ((code >>> (len - take)) & ((1 << take) - 1));
      bits += take;
      len -= take;
      if (bits === 8) {
        bytes.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) bytes.push((acc << (8 - bits)) | ((1 << (8 - bits)) - 1));
  return Buffer.from(bytes);
}
