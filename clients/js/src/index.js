// loomgit for JavaScript and TypeScript: the prompts a stage holds, from a schema 2
// bundle (`loomgit export`) or from `loomgit serve`, rendered as loomgit renders them.
// ESM, no dependencies; Node 18+ (and browsers, for everything but reading files).

import { RenderError, compile, pyEq, pyRepr, pyTypeName, renderTemplate } from "./render.js";

export { RenderError, pyRepr, pyStr } from "./render.js";

export const BUNDLE_FORMAT = "loomgit-bundle";

/** A bundle, a prompt or a server answer that cannot be used; one line. */
export class LoomgitError extends Error {
  constructor(message, { status = null, type = null } = {}) {
    super(message);
    this.name = "LoomgitError";
    this.status = status;
    this.type = type;
  }
}

// --- variables: loomgit's checks, with its messages ----------------------------------

function loomgitType(schema) {
  const t = schema?.type;
  if (t === "array" && Array.isArray(schema.items?.required) && schema.items.required.includes("role")) {
    return "messages";
  }
  return typeof t === "string" ? t : "any";
}

const TYPE_CHECKS = {
  string: (v) => typeof v === "string",
  number: (v) => typeof v === "number",
  integer: (v) => Number.isSafeInteger(v),
  boolean: (v) => typeof v === "boolean",
  array: (v) => Array.isArray(v),
  object: (v) => v !== null && typeof v === "object" && !Array.isArray(v),
  any: () => true,
  messages: () => true,
};

function valueProblem(name, type, schema, value) {
  if (type === "messages") {
    if (!Array.isArray(value)) {
      return `variable ${pyRepr(name)} must be a list of messages ({role, content}), got ${pyTypeName(value)}`;
    }
    return null;
  }
  if (!(TYPE_CHECKS[type] ?? TYPE_CHECKS.any)(value)) {
    return `variable ${pyRepr(name)} must be of type ${type}, got ${pyTypeName(value)}`;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => pyEq(e, value))) {
    return `variable ${pyRepr(name)} must be one of ${schema.enum.map(pyRepr).join(", ")}, got ${pyRepr(value)}`;
  }
  return null;
}

const byCodePoint = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** ``given`` checked against the variables' JSON Schema, defaults filled in. */
export function resolveVariables(entry, given) {
  const props = entry.variables?.properties ?? {};
  const required = new Set(entry.variables?.required ?? []);
  const values = { ...(given === undefined || given === null ? entry.sample ?? {} : given) };
  const problems = [];
  const unknown = Object.keys(values).filter((k) => !(k in props)).sort(byCodePoint);
  if (unknown.length) {
    const known = Object.keys(props).sort(byCodePoint).join(", ") || "none";
    problems.push(`unknown variable(s): ${unknown.join(", ")} (declared: ${known})`);
  }
  const missing = [...required].filter((n) => !(n in values)).sort(byCodePoint);
  if (missing.length) problems.push(`missing required variable(s): ${missing.join(", ")}`);
  for (const [name, schema] of Object.entries(props)) {
    if (name in values) {
      const p = valueProblem(name, loomgitType(schema), schema, values[name]);
      if (p) problems.push(p);
    } else if (!required.has(name)) {
      values[name] = schema.default ?? null;
    }
  }
  if (problems.length) throw new RenderError(problems.join("; "), entry.path);
  return values;
}

// --- a prompt ------------------------------------------------------------------------

/** One prompt of a stage: its description (the bundle's entry or the server's answer). */
export class Prompt {
  constructor(entry, { origin = "", stale = false } = {}) {
    if (!entry || typeof entry !== "object" || typeof entry.id !== "string") {
      throw new LoomgitError("not a prompt description (no 'id')");
    }
    this.entry = entry;
    this.id = entry.id;
    this.version = entry.version;
    this.stage = entry.stage;
    this.contentHash = entry.content_hash;
    this.sourceCommit = entry.source_commit;
    this.path = entry.path;
    this.model = entry.model ?? null;
    this.params = entry.params ?? {};
    this.tools = entry.tools ?? [];
    this.output = entry.output ?? null;
    this.variables = entry.variables ?? { type: "object", properties: {}, required: [] };
    this.portable = entry.portable === true;
    this.portableProblems = entry.portable_problems ?? [];
    this.origin = origin;
    this.stale = stale; // served from the last good copy while the server is down
    this._compiled = null;
  }

  _templates() {
    if (this._compiled) return this._compiled;
    if (!this.portable || !Array.isArray(this.entry.portable_messages)) {
      const first = this.portableProblems[0]?.message;
      throw new LoomgitError(
        `${this.id} ${this.version} is not portable: ${first ?? "the bundle has no portable messages"}` +
          " (render it with loomgit or the server's /render)",
      );
    }
    this._compiled = this.entry.portable_messages.map((m) =>
      typeof m.template === "string" ? { ...m, tmpl: compile(m.template, this.path, m.line ?? 1) } : m,
    );
    return this._compiled;
  }

  /** The messages, ``[{role, content}]``; with no variables, the prompt's ``sample``. */
  render(variables) {
    const templates = this._templates();
    const values = resolveVariables(this.entry, variables);
    const out = [];
    for (const m of templates) {
      if (m.role === "placeholder") {
        for (const turn of values[m.variable] ?? []) out.push({ ...turn });
      } else if (m.tmpl) {
        out.push({ role: m.role, content: renderTemplate(m.tmpl, values) });
      } else {
        out.push({ role: m.role, content: m.text ?? "" });
      }
    }
    return out;
  }

  /** ``params`` plus ``tools`` and ``response_format`` (OpenAI's vocabulary). */
  requestParams() {
    const out = { ...this.params };
    if (this.tools.length && !("tools" in out)) out.tools = this.tools;
    const o = this.output;
    if (o && o.format === "json" && o.schema && Object.keys(o.schema).length && !("response_format" in out)) {
      out.response_format = { type: "json_schema", json_schema: { name: "output", schema: o.schema, strict: false } };
    }
    return out;
  }
}

// --- bundles -------------------------------------------------------------------------

/** A schema 2 bundle (an object, or its JSON text). */
export class Bundle {
  constructor(data, origin = "bundle") {
    if (typeof data === "string") {
      try {
        data = JSON.parse(data);
      } catch (e) {
        throw new LoomgitError(`${origin}: not a JSON bundle (${e.message})`);
      }
    }
    if (!data || typeof data !== "object" || data.format !== BUNDLE_FORMAT) {
      throw new LoomgitError(`${origin}: not a loomgit bundle (write one with 'loomgit export --stage STAGE -o FILE')`);
    }
    if (data.schema !== 2) {
      throw new LoomgitError(
        `${origin}: bundle schema ${JSON.stringify(data.schema)} is not 2 (export it again with a loomgit that writes schema 2)`,
      );
    }
    if (!data.prompts || typeof data.prompts !== "object") {
      throw new LoomgitError(`${origin}: bundle has no 'prompts' mapping`);
    }
    this.data = data;
    this.stage = data.stage;
    this.origin = origin;
    this._prompts = new Map();
  }

  /** Ids of the prompts the bundle holds. */
  ids() {
    return Object.keys(this.data.prompts).sort(byCodePoint);
  }

  /** The prompt ``id`` (``stage``, when given, must be the bundle's). */
  get(id, { stage } = {}) {
    if (stage !== undefined && stage !== this.stage) {
      throw new LoomgitError(`${this.origin}: the bundle holds stage ${pyRepr(this.stage)}, not ${pyRepr(stage)}`);
    }
    let p = this._prompts.get(id);
    if (!p) {
      const entry = this.data.prompts[id];
      if (!entry) {
        const held = this.ids().join(", ") || "nothing";
        throw new LoomgitError(`${pyRepr(id)} is not in the bundle ${this.origin} (it holds ${held})`);
      }
      p = new Prompt(entry, { origin: `bundle:${this.origin}` });
      this._prompts.set(id, p);
    }
    return p;
  }
}

/** Read a bundle file (Node). */
export async function loadBundle(path) {
  const { readFile } = await import("node:fs/promises");
  let text;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new LoomgitError(`${path}: cannot read bundle (${e.code ?? e.message})`);
  }
  return new Bundle(text, String(path));
}

// --- the server ----------------------------------------------------------------------

function maxAge(headers) {
  const m = /max-age=(\d+)/.exec(headers.get("cache-control") ?? "");
  return m ? Number(m[1]) * 1000 : 0;
}

/**
 * A client of `loomgit serve`. ``get()`` keeps each answer with its ETag: within the
 * server's ``Cache-Control: max-age`` it is used as it is; after, it is revalidated
 * (``If-None-Match``; a 304 keeps it). When the server cannot be reached (network
 * error, timeout, 5xx), the last good copy is used (``prompt.stale`` is true), else the
 * prompt from ``fallback`` (a Bundle, or a bundle file's path). ``cacheFile`` (Node)
 * keeps the last good copies across restarts.
 */
export class Client {
  constructor({ baseUrl, apiKey, stage = "production", fallback, cacheFile, timeoutMs = 2000, fetch: f } = {}) {
    if (!baseUrl) throw new LoomgitError("Client needs a baseUrl (the address of 'loomgit serve')");
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.apiKey = apiKey ?? null;
    this.stage = stage;
    this.fallback = fallback ?? null;
    this.cacheFile = cacheFile ?? null;
    this.timeoutMs = timeoutMs;
    this.fetch = f ?? globalThis.fetch.bind(globalThis);
    this.cache = new Map(); // key -> {etag, entry, until}
    this._loaded = false;
  }

  _headers(extra = {}) {
    const h = { accept: "application/json", ...extra };
    if (this.apiKey) h.authorization = `Bearer ${this.apiKey}`;
    return h;
  }

  async _request(path, init = {}) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.timeoutMs);
    try {
      return await this.fetch(this.baseUrl + path, { ...init, signal: ctl.signal });
    } finally {
      clearTimeout(timer);
    }
  }

  static async _error(res) {
    let message = `HTTP ${res.status}`;
    let type = null;
    try {
      const body = await res.json();
      message = body?.error?.message ?? message;
      type = body?.error?.type ?? null;
    } catch {
      // not JSON: the status says it
    }
    return new LoomgitError(`loomgit serve: ${message} (HTTP ${res.status})`, { status: res.status, type });
  }

  async _loadCacheFile() {
    if (this._loaded || !this.cacheFile) return;
    this._loaded = true;
    try {
      const { readFile } = await import("node:fs/promises");
      for (const [k, v] of Object.entries(JSON.parse(await readFile(this.cacheFile, "utf8")))) {
        if (!this.cache.has(k)) this.cache.set(k, { ...v, until: 0 });
      }
    } catch {
      // no copy kept yet
    }
  }

  async _saveCacheFile() {
    if (!this.cacheFile) return;
    const { writeFile, rename } = await import("node:fs/promises");
    const data = Object.fromEntries([...this.cache].map(([k, v]) => [k, { etag: v.etag, entry: v.entry }]));
    const tmp = `${this.cacheFile}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(data));
    await rename(tmp, this.cacheFile); // a reader never sees half a file
  }

  async _fallback(id, stage, why) {
    let b = this.fallback;
    if (typeof b === "string") b = this.fallback = await loadBundle(b);
    if (!b) throw why;
    if (b.stage !== stage) throw why;
    const p = b.get(id);
    p.stale = true;
    return p;
  }

  /** The prompt ``id`` (``{stage}``, ``{version}`` or ``{ref}``, default this client's stage). */
  async get(id, { stage, version, ref } = {}) {
    await this._loadCacheFile();
    const q = new URLSearchParams();
    if (version) q.set("version", version);
    else if (ref) q.set("ref", ref);
    else q.set("stage", stage ?? this.stage);
    const path = `/v1/prompts/${id.split("/").map(encodeURIComponent).join("/")}?${q}`;
    const hit = this.cache.get(path);
    if (hit && hit.until > Date.now()) return new Prompt(hit.entry, { origin: this.baseUrl });
    let res;
    try {
      res = await this._request(path, {
        headers: this._headers(hit?.etag ? { "if-none-match": hit.etag } : {}),
      });
    } catch (e) {
      const why = new LoomgitError(`loomgit serve at ${this.baseUrl} cannot be reached (${e.name === "AbortError" ? "timed out" : e.cause?.code ?? e.message})`);
      if (hit) return new Prompt(hit.entry, { origin: this.baseUrl, stale: true });
      return this._fallback(id, stage ?? this.stage, why);
    }
    if (res.status === 304 && hit) {
      hit.until = Date.now() + maxAge(res.headers);
      return new Prompt(hit.entry, { origin: this.baseUrl });
    }
    if (res.status >= 500) {
      const why = await Client._error(res);
      if (hit) return new Prompt(hit.entry, { origin: this.baseUrl, stale: true });
      return this._fallback(id, stage ?? this.stage, why);
    }
    if (!res.ok) throw await Client._error(res);
    let entry;
    try {
      entry = await res.json();
    } catch {
      throw new LoomgitError(`loomgit serve at ${this.baseUrl}: the answer for ${pyRepr(id)} is not JSON`, {
        status: res.status,
      });
    }
    this.cache.set(path, { etag: res.headers.get("etag"), entry, until: Date.now() + maxAge(res.headers) });
    await this._saveCacheFile();
    return new Prompt(entry, { origin: this.baseUrl });
  }

  /** The prompts a stage holds: ``[{id, version, stage, content_hash}]``. */
  async list({ stage } = {}) {
    const res = await this._request(`/v1/prompts?stage=${encodeURIComponent(stage ?? this.stage)}`, {
      headers: this._headers(),
    });
    if (!res.ok) throw await Client._error(res);
    return (await res.json()).prompts;
  }

  /** Render on the server (``POST /v1/prompts/{id}/render``): any prompt, portable or not. */
  async renderRemote(id, variables, { stage, version, ref } = {}) {
    const body = { variables: variables ?? {}, ...(version ? { version } : ref ? { ref } : { stage: stage ?? this.stage }) };
    const res = await this._request(`/v1/prompts/${id.split("/").map(encodeURIComponent).join("/")}/render`, {
      method: "POST",
      headers: this._headers({ "content-type": "application/json" }),
      body: JSON.stringify(body),
    });
    if (!res.ok) throw await Client._error(res);
    return (await res.json()).messages;
  }
}
