// Parser for the protobuf text format as Triton's config.pbtxt files use it. It produces a syntax tree
// that keeps line numbers, so the schema layer (model-config.ts) can name FILE:LINE in its errors.
//
// Supported: `name: value`, `name { ... }` / `name: { ... }` / `name < ... >`, lists `name: [a, b]`
// (of scalars or messages), repeated fields by repetition, double/single-quoted strings with C escapes
// (adjacent strings concatenate), numbers (decimal, hex, floats, inf/nan), identifiers (enum values,
// true/false), `#` comments, and `,` or `;` after a field.

export class PbtxtError extends Error {
  readonly file: string;
  readonly line: number;
  readonly column: number;

  constructor(file: string, line: number, column: number, message: string) {
    super(`${file}:${line}:${column}: ${message}`);
    this.name = "PbtxtError";
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

export type PbScalar =
  | { kind: "string"; value: string; line: number }
  | { kind: "number"; text: string; value: number; line: number }
  | { kind: "identifier"; text: string; line: number };

export interface PbMessage {
  kind: "message";
  fields: PbField[];
  line: number;
}

export interface PbList {
  kind: "list";
  items: (PbScalar | PbMessage)[];
  line: number;
}

export type PbValue = PbScalar | PbMessage | PbList;

export interface PbField {
  name: string;
  line: number;
  value: PbValue;
}

type TokenKind = "punct" | "string" | "number" | "identifier" | "eof";

interface Token {
  kind: TokenKind;
  text: string;
  /** Decoded value of a string token. */
  value?: string;
  line: number;
  column: number;
}

const PUNCT = new Set(["{", "}", "[", "]", "<", ">", ":", ",", ";"]);
const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_.]/;
const NUMBER_TEXT = /^[-+]?(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?[fF]?|inf|infinity|nan)$/i;

class Lexer {
  readonly file: string;
  private readonly src: string;
  private pos = 0;
  private line = 1;
  private lineStart = 0;

  constructor(file: string, src: string) {
    this.file = file;
    this.src = src;
  }

  private error(message: string, line = this.line, column = this.pos - this.lineStart + 1): never {
    throw new PbtxtError(this.file, line, column, message);
  }

  private skipSpaceAndComments(): void {
    const s = this.src;
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (c === "\n") {
        this.pos++;
        this.line++;
        this.lineStart = this.pos;
      } else if (c === " " || c === "\t" || c === "\r" || c === "\f" || c === "\v") {
        this.pos++;
      } else if (c === "#") {
        while (this.pos < s.length && s[this.pos] !== "\n") this.pos++;
      } else {
        return;
      }
    }
  }

  next(): Token {
    this.skipSpaceAndComments();
    const s = this.src;
    const line = this.line;
    const column = this.pos - this.lineStart + 1;
    if (this.pos >= s.length) return { kind: "eof", text: "end of file", line, column };
    const c = s[this.pos]!;
    if (c === '"' || c === "'") return this.readString(c, line, column);
    if (PUNCT.has(c)) {
      this.pos++;
      return { kind: "punct", text: c, line, column };
    }
    if (/[-+0-9.]/.test(c) || IDENT_START.test(c)) {
      const start = this.pos;
      this.pos++;
      // Numbers like 1e-5 carry a sign inside; identifiers never do.
      while (this.pos < s.length) {
        const d = s[this.pos]!;
        if (IDENT_PART.test(d) || ((d === "-" || d === "+") && /[eE]/.test(s[this.pos - 1]!) && /[-+0-9.]/.test(s[start]!)))
          this.pos++;
        else break;
      }
      const text = s.slice(start, this.pos);
      if (/[-+0-9.]/.test(c)) {
        if (!NUMBER_TEXT.test(text)) this.error(`invalid number '${text}'`, line, column);
        return { kind: "number", text, line, column };
      }
      return { kind: "identifier", text, line, column };
    }
    this.error(`unexpected character '${c}'`);
  }

  private readString(quote: string, line: number, column: number): Token {
    const s = this.src;
    const bytes: number[] = [];
    const start = this.pos;
    this.pos++;
    for (;;) {
      if (this.pos >= s.length || s[this.pos] === "\n") this.error("unterminated string", line, column);
      const c = s[this.pos]!;
      if (c === quote) {
        this.pos++;
        break;
      }
      if (c !== "\\") {
        const cp = s.codePointAt(this.pos)!;
        this.pos += cp > 0xffff ? 2 : 1;
        for (const b of Buffer.from(String.fromCodePoint(cp), "utf8")) bytes.push(b);
        continue;
      }
      const e = s[this.pos + 1];
      this.pos += 2;
      switch (e) {
        case "n": bytes.push(10); break;
        case "t": bytes.push(9); break;
        case "r": bytes.push(13); break;
        case "a": bytes.push(7); break;
        case "b": bytes.push(8); break;
        case "f": bytes.push(12); break;
        case "v": bytes.push(11); break;
        case "\\": case "'": case '"': case "?": bytes.push(e.charCodeAt(0)); break;
        case "x": case "X": {
          const m = /^[0-9a-fA-F]{1,2}/.exec(s.slice(this.pos, this.pos + 2));
          if (!m) this.error("\\x escape needs hex digits");
          bytes.push(parseInt(m[0], 16));
          this.pos += m[0].length;
          break;
        }
        default: {
          const m = e !== undefined ? /^[0-7]{1,3}/.exec(s.slice(this.pos - 1, this.pos + 2)) : null;
          if (!m) this.error(`unknown escape '\\${e ?? ""}' in string`);
          bytes.push(parseInt(m[0], 8) & 0xff);
          this.pos += m[0].length - 1;
        }
      }
    }
    return { kind: "string", text: s.slice(start, this.pos), value: Buffer.from(bytes).toString("utf8"), line, column };
  }
}

class Parser {
  private readonly lexer: Lexer;
  private tok: Token;

  constructor(file: string, src: string) {
    this.lexer = new Lexer(file, src);
    this.tok = this.lexer.next();
  }

  private error(message: string, tok = this.tok): never {
    throw new PbtxtError(this.lexer.file, tok.line, tok.column, message);
  }

  private advance(): Token {
    const t = this.tok;
    this.tok = this.lexer.next();
    return t;
  }

  private isPunct(p: string): boolean {
    return this.tok.kind === "punct" && this.tok.text === p;
  }

  private expectPunct(p: string, context: string): void {
    if (!this.isPunct(p)) this.error(`expected '${p}' ${context}, found '${this.tok.text}'`);
    this.advance();
  }

  parseDocument(): PbMessage {
    const fields = this.parseFields(undefined);
    return { kind: "message", fields, line: 1 };
  }

  /** Fields up to `close` (or end of file when close is undefined). */
  private parseFields(close: string | undefined): PbField[] {
    const fields: PbField[] = [];
    for (;;) {
      if (close === undefined ? this.tok.kind === "eof" : this.isPunct(close)) return fields;
      if (this.tok.kind === "eof") this.error(`expected '${close}' before end of file`);
      if (this.tok.kind !== "identifier") this.error(`expected a field name, found '${this.tok.text}'`);
      const nameTok = this.advance();
      const hasColon = this.isPunct(":");
      if (hasColon) this.advance();
      let value: PbValue;
      if (this.isPunct("{") || this.isPunct("<")) {
        value = this.parseMessage();
      } else if (this.isPunct("[")) {
        // `input [ {...}, {...} ]` (no colon) is how Triton's examples write repeated messages.
        value = this.parseList(nameTok.text);
      } else if (!hasColon) {
        this.error(`expected ':' or '{' after field name '${nameTok.text}', found '${this.tok.text}'`);
      } else {
        value = this.parseScalar(nameTok.text);
      }
      fields.push({ name: nameTok.text, line: nameTok.line, value });
      if (this.isPunct(",") || this.isPunct(";")) this.advance();
    }
  }

  private parseMessage(): PbMessage {
    const open = this.advance();
    const close = open.text === "{" ? "}" : ">";
    const fields = this.parseFields(close);
    this.advance();
    return { kind: "message", fields, line: open.line };
  }

  private parseList(field: string): PbList {
    const open = this.advance();
    const items: (PbScalar | PbMessage)[] = [];
    if (this.isPunct("]")) {
      this.advance();
      return { kind: "list", items, line: open.line };
    }
    for (;;) {
      items.push(this.isPunct("{") || this.isPunct("<") ? this.parseMessage() : this.parseScalar(field));
      if (this.isPunct("]")) {
        this.advance();
        return { kind: "list", items, line: open.line };
      }
      this.expectPunct(",", `between elements of list '${field}'`);
    }
  }

  private parseScalar(field: string): PbScalar {
    const t = this.tok;
    if (t.kind === "string") {
      let value = "";
      while (this.tok.kind === "string") value += this.advance().value!;
      return { kind: "string", value, line: t.line };
    }
    if (t.kind === "number") {
      this.advance();
      return { kind: "number", text: t.text, value: parseNumber(t.text), line: t.line };
    }
    if (t.kind === "identifier") {
      this.advance();
      return { kind: "identifier", text: t.text, line: t.line };
    }
    this.error(`expected a value for field '${field}', found '${t.text}'`);
  }
}

function parseNumber(text: string): number {
  const t = text.replace(/[fF]$/, "").toLowerCase();
  const sign = t.startsWith("-") ? -1 : 1;
  const body = t.replace(/^[-+]/, "");
  if (body === "inf" || body === "infinity") return sign * Infinity;
  if (body === "nan") return NaN;
  if (body.startsWith("0x")) return sign * parseInt(body.slice(2), 16);
  return sign * Number(body);
}

/** Parses protobuf text format. `file` names the source in errors. Throws PbtxtError on syntax errors. */
export function parsePbtxt(text: string, file: string): PbMessage {
  return new Parser(file, text).parseDocument();
}
