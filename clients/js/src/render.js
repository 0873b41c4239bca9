// The portable subset of loomgit's template language, rendered exactly as loomgit's
// sandboxed Jinja environment renders it (trim_blocks and lstrip_blocks off, one
// trailing newline dropped, values printed as Python prints them, StrictUndefined).
// The subset and its limits: docs/bundle.md. No dependencies.

export class RenderError extends Error {
  constructor(message, path, line) {
    super(path ? (line ? `${path}:${line}: ${message}` : `${path}: ${message}`) : message);
    this.name = "RenderError";
    this.reason = message;
    this.path = path ?? null;
    this.line = line ?? null;
  }
}

// Python's whitespace (str.isspace), what Jinja's whitespace control strips.
const WS =
  " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005" +
  "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";
const isWs = (c) => WS.includes(c);
const rstrip = (s) => {
  let i = s.length;
  while (i > 0 && isWs(s[i - 1])) i--;
  return s.slice(0, i);
};
const lstripAt = (s, i) => {
  while (i < s.length && isWs(s[i])) i++;
  return i;
};

// --- Python values -------------------------------------------------------------------

const isDict = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

export function pyTypeName(v) {
  if (v === null || v === undefined) return "NoneType";
  if (typeof v === "string") return "str";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isSafeInteger(v) && !Object.is(v, -0) ? "int" : "float";
  if (Array.isArray(v)) return "list";
  return "dict";
}

function floatRepr(x) {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (Object.is(x, -0)) return "-0.0";
  const [mant, e] = x.toExponential().split("e"); // shortest round-trip digits
  const exp = Number(e);
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  let out;
  if (exp >= -5 + 1 && exp < 16) {
    if (exp >= 0) {
      const int = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
      const frac = digits.slice(exp + 1) || "0";
      out = `${int}.${frac}`;
    } else {
      out = `0.${"0".repeat(-exp - 1)}${digits}`;
    }
  } else {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const ae = Math.abs(exp);
    out = `${m}e${exp < 0 ? "-" : "+"}${ae < 10 ? "0" : ""}${ae}`;
  }
  return neg ? `-${out}` : out;
}

// JavaScript has one number type: a whole number within 2**53 prints as a Python int
// (1.0 from JSON prints "1", where Python prints "1.0"), a larger one as the float
// Python's JSON reader makes of it (1e16 prints "1e+16"), as do all others.
function numberStr(n) {
  return Number.isSafeInteger(n) && !Object.is(n, -0) ? String(n) : floatRepr(n);
}

const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function strRepr(s) {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (cp < 0x20 || cp === 0x7f) out += "\\x" + cp.toString(16).padStart(2, "0");
    else if (cp < 0x7f) out += ch;
    else if (ch !== " " && NON_PRINTABLE.test(ch)) {
      if (cp < 0x100) out += "\\x" + cp.toString(16).padStart(2, "0");
      else if (cp < 0x10000) out += "\\u" + cp.toString(16).padStart(4, "0");
      else out += "\\U" + cp.toString(16).padStart(8, "0");
    } else out += ch;
  }
  return out + quote;
}

/** repr() of a JSON value, as Python writes it. */
export function pyRepr(v) {
  if (typeof v === "string") return strRepr(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
  if (isDict(v)) {
    return `{${Object.entries(v)
      .map(([k, x]) => `${strRepr(k)}: ${pyRepr(x)}`)
      .join(", ")}}`;
  }
  return pyStr(v);
}

/** str() of a JSON value, as Python (and so Jinja's ``{{ }}``) writes it. */
export function pyStr(v) {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "string") return v;
  if (typeof v === "number") return numberStr(v);
  return pyRepr(v);
}

export function pyTruthy(v) {
  if (v === null || v === undefined || v === false) return false;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string" || Array.isArray(v)) return v.length > 0;
  if (isDict(v)) return Object.keys(v).length > 0;
  return true;
}

export function pyEq(a, b) {
  const num = (x) => typeof x === "number" || typeof x === "boolean";
  if (num(a) && num(b)) return Number(a) === Number(b);
  if (a === null || b === null || a === undefined || b === undefined) {
    return (a ?? null) === (b ?? null);
  }
  if (typeof a === "string" || typeof b === "string") return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => pyEq(x, b[i]))
    );
  }
  if (isDict(a) && isDict(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && pyEq(a[k], b[k]));
  }
  return false;
}

function objectTypeRepr(v) {
  return v === null || v === undefined ? "None" : `${pyTypeName(v)} object`;
}

// --- lexer ---------------------------------------------------------------------------

const NAME = /[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*/uy; // as Python identifiers
const NUMBER = /(\d[\d_]*)(\.\d[\d_]*)?([eE][+-]?\d[\d_]*)?/y;
const OPERATORS = ["==", "!=", "(", ")", "[", "]", ".", "-", ","];
const ESCAPES = {
  n: "\n", t: "\t", r: "\r", a: "\x07", b: "\b", f: "\f", v: "\v",
  "\\": "\\", "'": "'", '"': '"', "\n": "",
};

function countNl(s, from, to) {
  let n = 0;
  for (let j = from; j < to; j++) if (s.charCodeAt(j) === 10) n++;
  return n;
}

class Lexer {
  constructor(source, path, first) {
    let s = source.replace(/\r\n|\r/g, "\n");
    if (s.endsWith("\n")) s = s.slice(0, -1); // keep_trailing_newline is off
    this.s = s;
    this.path = path;
    this.first = first;
  }

  fail(message, line) {
    throw new RenderError(message, this.path, this.first + line - 1);
  }

  // -> [{kind: "data", text} | {kind: "var"|"block", tokens, line}]
  tokens() {
    const s = this.s;
    const out = [];
    let i = 0;
    let line = 1;
    let lstrip = false; // the previous tag ended with "-"
    const pushData = (text) => {
      if (text) out.push({ kind: "data", text });
    };
    while (i < s.length) {
      let j = i;
      let open = -1;
      while ((j = s.indexOf("{", j)) !== -1) {
        if ("{%#".includes(s[j + 1] ?? "")) {
          open = j;
          break;
        }
        j++;
      }
      const end = open === -1 ? s.length : open;
      let data = s.slice(i, end);
      if (lstrip) data = data.slice(lstripAt(data, 0));
      const strip = open !== -1 && s[open + 2] === "-";
      if (strip) data = rstrip(data);
      line += (s.slice(i, end).match(/\n/g) || []).length;
      if (open === -1) {
        pushData(data);
        break;
      }
      const kind = s[open + 1];
      let k = open + 2 + (s[open + 2] === "-" || s[open + 2] === "+" ? 1 : 0);
      if (kind === "#") {
        const close = s.indexOf("#}", k);
        if (close === -1) this.fail("template syntax error: '{#' is never closed", line);
        pushData(data);
        lstrip = s[close - 1] === "-" && close - 1 >= k;
        line += (s.slice(open, close + 2).match(/\n/g) || []).length;
        i = close + 2;
        continue;
      }
      // raw block?
      const raw = /\s*raw\s*(-?)%\}/y;
      raw.lastIndex = k;
      if (kind === "%" && raw.exec(s)) {
        pushData(data);
        let body = raw.lastIndex;
        if (s[raw.lastIndex - 3] === "-") body = lstripAt(s, body);
        const endRe = /\{%([-+]?)\s*endraw\s*(-?)%\}/g;
        endRe.lastIndex = body;
        const m = endRe.exec(s);
        if (!m) this.fail("template syntax error: missing end of raw directive", line);
        let text = s.slice(body, m.index);
        if (m[1] === "-") text = rstrip(text);
        pushData(text);
        line += (s.slice(open, endRe.lastIndex).match(/\n/g) || []).length;
        i = endRe.lastIndex;
        lstrip = m[2] === "-";
        continue;
      }
      pushData(data);
      const tagLine = line;
      const closer = kind === "{" ? "}}" : "%}";
      const toks = [];
      for (;;) {
        k = lstripAt(s, k);
        if (k >= s.length) this.fail(`template syntax error: '{${kind}' is never closed`, tagLine);
        const lineHere = tagLine + countNl(s, open, k);
        if (s.startsWith("-" + closer, k)) {
          k += 3;
          lstrip = true;
          break;
        }
        if (closer === "%}" && s.startsWith("+%}", k)) {
          k += 3;
          lstrip = false;
          break;
        }
        if (s.startsWith(closer, k)) {
          k += 2;
          lstrip = false;
          break;
        }
        const c = s[k];
        if (c === "'" || c === '"') {
          let v = "";
          let q = k + 1;
          while (q < s.length && s[q] !== c) {
            if (s[q] === "\\") {
              // Python's unicode-escape, as Jinja decodes a string literal
              const e = s[q + 1];
              const hex = { x: 2, u: 4, U: 8 }[e];
              const oct = /^[0-7]{1,3}/.exec(s.slice(q + 1, q + 4));
              if (hex && /^[0-9a-fA-F]+$/.test(s.slice(q + 2, q + 2 + hex)) && s.slice(q + 2, q + 2 + hex).length === hex) {
                v += String.fromCodePoint(parseInt(s.slice(q + 2, q + 2 + hex), 16));
                q += 2 + hex;
              } else if (oct) {
                v += String.fromCodePoint(parseInt(oct[0], 8));
                q += 1 + oct[0].length;
              } else {
                v += e in ESCAPES ? ESCAPES[e] : "\\" + e;
                q += 2;
              }
              continue;
            }
            v += s[q++];
          }
          if (q >= s.length) this.fail("template syntax error: unexpected end of string", lineHere);
          toks.push({ t: "const", v, line: lineHere });
          k = q + 1;
          continue;
        }
        NUMBER.lastIndex = k;
        let m = /\d/.test(c) ? NUMBER.exec(s) : null;
        if (m) {
          const text = m[0].replace(/_/g, "");
          toks.push({ t: "const", v: Number(text), line: lineHere });
          k = NUMBER.lastIndex;
          continue;
        }
        NAME.lastIndex = k;
        m = NAME.exec(s);
        if (m) {
          toks.push({ t: "name", v: m[0], line: lineHere });
          k = NAME.lastIndex;
          continue;
        }
        const op = OPERATORS.find((o) => s.startsWith(o, k));
        if (!op) this.fail(`not portable: the character ${strRepr(c)}`, lineHere);
        toks.push({ t: "op", v: op, line: lineHere });
        k += op.length;
      }
      out.push({ kind: kind === "{" ? "var" : "block", tokens: toks, line: tagLine });
      line += (s.slice(open, k).match(/\n/g) || []).length;
      i = k;
    }
    return out;
  }
}

// --- parser --------------------------------------------------------------------------

const CONSTS = { true: true, True: true, false: false, False: false, none: null, None: null };
const LOOP_ATTRS = new Set(["index", "index0", "revindex", "revindex0", "first", "last", "length"]);

class Parser {
  constructor(items, path, first) {
    this.items = items;
    this.pos = 0;
    this.path = path;
    this.first = first;
  }

  fail(message, line) {
    throw new RenderError(message, this.path, this.first + (line ?? 1) - 1);
  }

  notPortable(what, line) {
    this.fail(`not portable: ${what} (render it with loomgit, or see 'loomgit check --portable')`, line);
  }

  // body until one of the block keywords in ``stops``
  body(stops) {
    const nodes = [];
    while (this.pos < this.items.length) {
      const it = this.items[this.pos];
      if (it.kind === "data") {
        nodes.push({ n: "data", text: it.text });
        this.pos++;
      } else if (it.kind === "var") {
        this.pos++;
        const ex = new Expr(it.tokens, this, it.line);
        nodes.push({ n: "out", expr: ex.parse(), line: it.line });
        ex.end();
      } else {
        const word = it.tokens[0]?.v;
        if (stops.includes(word)) return { nodes, stop: word };
        this.pos++;
        if (word === "if") nodes.push(this.ifNode(it));
        else if (word === "for") nodes.push(this.forNode(it));
        else this.notPortable(word ? `the tag '${word}'` : "an empty tag", it.line);
      }
    }
    if (stops.length) this.fail(`template syntax error: missing '{% ${stops.at(-1)} %}'`, 1);
    return { nodes, stop: null };
  }

  ifNode(it) {
    const ex = new Expr(it.tokens.slice(1), this, it.line);
    const branches = [{ test: ex.parse(), line: it.line }];
    ex.end();
    let elseBody = [];
    for (;;) {
      const { nodes, stop } = this.body(["elif", "else", "endif"]);
      const tag = this.items[this.pos++];
      if (branches.at(-1).body === undefined) branches.at(-1).body = nodes;
      else elseBody = nodes;
      if (stop === "elif") {
        const e = new Expr(tag.tokens.slice(1), this, tag.line);
        branches.push({ test: e.parse(), line: tag.line });
        e.end();
      } else if (stop === "else") {
        const { nodes: rest } = this.body(["endif"]);
        this.pos++;
        elseBody = rest;
        break;
      } else break;
    }
    return { n: "if", branches, elseBody };
  }

  forNode(it) {
    const [, target, kw, ...rest] = it.tokens;
    if (target?.t !== "name" || kw?.v !== "in") this.notPortable("this for loop", it.line);
    const ex = new Expr(rest, this, it.line);
    const iter = ex.parse();
    ex.end();
    const { nodes, stop } = this.body(["else", "endfor"]);
    this.pos++;
    let elseBody = [];
    if (stop === "else") {
      elseBody = this.body(["endfor"]).nodes;
      this.pos++;
    }
    return { n: "for", target: target.v, iter, body: nodes, elseBody, line: it.line };
  }
}

class Expr {
  constructor(tokens, parser, line) {
    this.t = tokens;
    this.i = 0;
    this.p = parser;
    this.line = line;
  }

  peek() {
    return this.t[this.i];
  }

  next() {
    return this.t[this.i++];
  }

  end() {
    const t = this.peek();
    if (t) this.p.notPortable(`'${t.v}' here`, t.line);
  }

  parse() {
    return this.or();
  }

  or() {
    let left = this.and();
    while (this.peek()?.t === "name" && this.peek().v === "or") {
      this.next();
      left = { n: "or", left, right: this.and() };
    }
    return left;
  }

  and() {
    let left = this.not();
    while (this.peek()?.t === "name" && this.peek().v === "and") {
      this.next();
      left = { n: "and", left, right: this.not() };
    }
    return left;
  }

  not() {
    if (this.peek()?.t === "name" && this.peek().v === "not") {
      this.next();
      return { n: "not", expr: this.not() };
    }
    return this.compare();
  }

  compare() {
    const left = this.postfix();
    const t = this.peek();
    if (t?.t === "op" && (t.v === "==" || t.v === "!=")) {
      this.next();
      const right = this.postfix();
      const after = this.peek();
      if (after?.t === "op" && (after.v === "==" || after.v === "!=")) {
        this.p.notPortable("a chained comparison", after.line);
      }
      return { n: t.v === "==" ? "eq" : "ne", left, right };
    }
    return left;
  }

  postfix() {
    let node = this.primary();
    for (;;) {
      const t = this.peek();
      if (t?.t === "op" && t.v === ".") {
        this.next();
        const a = this.next();
        if (a?.t === "name") node = this.attr(node, a.v, a.line);
        else if (a?.t === "const" && Number.isInteger(a.v)) {
          node = { n: "item", obj: node, key: { n: "const", v: a.v }, line: a.line };
        } else this.p.notPortable("this attribute", t.line);
      } else if (t?.t === "op" && t.v === "[") {
        this.next();
        let key;
        const k = this.peek();
        if (k?.t === "op" && k.v === "-") {
          this.next();
          const c = this.next();
          if (c?.t !== "const" || typeof c.v !== "number") this.p.notPortable("unary '-'", k.line);
          key = { n: "const", v: -c.v };
        } else key = this.parse();
        const close = this.next();
        if (close?.v !== "]") this.p.notPortable("this subscript", t.line);
        node = { n: "item", obj: node, key, line: t.line };
      } else if (t?.t === "op" && t.v === "(") {
        this.p.notPortable("a call", t.line);
      } else return node;
    }
  }

  attr(node, name, line) {
    if (node.n === "name" && node.v === "loop" && node.loop) {
      if (!LOOP_ATTRS.has(name)) this.p.notPortable(`'loop.${name}'`, line);
      return { n: "loopattr", v: name, line };
    }
    return { n: "attr", obj: node, key: name, line };
  }

  primary() {
    const t = this.next();
    if (!t) this.p.notPortable("an empty expression", this.line);
    if (t.t === "const") return { n: "const", v: t.v };
    if (t.t === "name") {
      if (t.v in CONSTS) return { n: "const", v: CONSTS[t.v] };
      if (["and", "or", "not", "in", "if", "else", "is"].includes(t.v)) {
        this.p.notPortable(`'${t.v}' here`, t.line);
      }
      return { n: "name", v: t.v, line: t.line, loop: t.v === "loop" };
    }
    if (t.v === "(") {
      const inner = this.parse();
      if (this.next()?.v !== ")") this.p.notPortable("a tuple", t.line);
      return inner;
    }
    return this.p.notPortable(`'${t.v}'`, t.line);
  }
}

/** Parse a portable template; throws RenderError (naming path and line) otherwise. */
export function compile(source, path = "<template>", first = 1) {
  const items = new Lexer(source, path, first).tokens();
  const p = new Parser(items, path, first);
  return { nodes: p.body([]).nodes, path, first };
}

// --- evaluation ----------------------------------------------------------------------

function evaluate(node, scope, ctx) {
  switch (node.n) {
    case "const":
      return node.v;
    case "name": {
      if (node.v === "loop" && scope.loop) return ctx.fail("not portable: 'loop' on its own", node.line);
      for (let s = scope; s; s = s.parent) if (s.vars.has(node.v)) return s.vars.get(node.v);
      if (Object.prototype.hasOwnProperty.call(ctx.values, node.v)) return ctx.values[node.v];
      return ctx.undefined(`'${node.v}' is undefined`, node.line);
    }
    case "loopattr": {
      let s = scope;
      while (s && !s.loop) s = s.parent;
      return s ? s.loop[node.v] : ctx.undefined("'loop' is undefined", node.line);
    }
    case "attr":
      return getattr(evaluate(node.obj, scope, ctx), node.key, ctx, node.line);
    case "item":
      return getitem(evaluate(node.obj, scope, ctx), evaluate(node.key, scope, ctx), ctx, node.line);
    case "not":
      return !pyTruthy(evaluate(node.expr, scope, ctx));
    case "and": {
      const l = evaluate(node.left, scope, ctx);
      return pyTruthy(l) ? evaluate(node.right, scope, ctx) : l;
    }
    case "or": {
      const l = evaluate(node.left, scope, ctx);
      return pyTruthy(l) ? l : evaluate(node.right, scope, ctx);
    }
    case "eq":
    case "ne": {
      const eq = pyEq(evaluate(node.left, scope, ctx), evaluate(node.right, scope, ctx));
      return node.n === "eq" ? eq : !eq;
    }
    default:
      throw new Error(`unknown node ${node.n}`);
  }
}

function getattr(obj, key, ctx, line) {
  if (isDict(obj) && Object.prototype.hasOwnProperty.call(obj, key)) return obj[key];
  return ctx.undefined(`${strRepr(objectTypeRepr(obj))} has no attribute ${strRepr(key)}`, line);
}

function getitem(obj, key, ctx, line) {
  if (typeof key === "number" && Number.isInteger(key) && (Array.isArray(obj) || typeof obj === "string")) {
    const seq = typeof obj === "string" ? Array.from(obj) : obj;
    const i = key < 0 ? seq.length + key : key;
    if (i >= 0 && i < seq.length) return seq[i];
  } else if (isDict(obj) && typeof key === "string" && Object.prototype.hasOwnProperty.call(obj, key)) {
    return obj[key];
  }
  if (typeof key === "string") {
    return ctx.undefined(`${strRepr(objectTypeRepr(obj))} has no attribute ${strRepr(key)}`, line);
  }
  return ctx.undefined(`${objectTypeRepr(obj)} has no element ${pyRepr(key)}`, line);
}

function iterate(value, ctx, line) {
  if (Array.isArray(value)) return value;
  if (typeof value === "string") return Array.from(value);
  if (isDict(value)) return Object.keys(value);
  return ctx.fail(`template error: TypeError: '${pyTypeName(value)}' object is not iterable`, line);
}

function run(nodes, scope, ctx, out) {
  for (const node of nodes) {
    if (node.n === "data") out.push(node.text);
    else if (node.n === "out") out.push(pyStr(evaluate(node.expr, scope, ctx)));
    else if (node.n === "if") {
      const hit = node.branches.find((b) => pyTruthy(evaluate(b.test, scope, ctx)));
      run(hit ? hit.body : node.elseBody, scope, ctx, out);
    } else if (node.n === "for") {
      const items = iterate(evaluate(node.iter, scope, ctx), ctx, node.line);
      const n = items.length;
      items.forEach((item, i) => {
        const loop = {
          index: i + 1,
          index0: i,
          revindex: n - i,
          revindex0: n - i - 1,
          first: i === 0,
          last: i === n - 1,
          length: n,
        };
        run(node.body, { parent: scope, vars: new Map([[node.target, item]]), loop }, ctx, out);
      });
      if (n === 0) run(node.elseBody, scope, ctx, out);
    }
  }
}

/** Render a compiled template with ``values`` (already checked); the text. */
export function renderTemplate(tmpl, values) {
  const fail = (message, line) => {
    throw new RenderError(message, tmpl.path, tmpl.first + (line ?? 1) - 1);
  };
  // StrictUndefined: every use of a missing value fails, and the subset has no way to
  // look at one without using it, so the lookup itself fails (short-circuits kept)
  const ctx = { values, fail, undefined: (message, line) => fail(`undefined: ${message}`, line) };
  const out = [];
  run(tmpl.nodes, { parent: null, vars: new Map(), loop: null }, ctx, out);
  return out.join("");
}
