// Types of the loomgit JavaScript loader (src/index.js).

/** A JSON value, as bundles and the server carry them. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A message as it is sent to a model (OpenAI chat completions' vocabulary). */
export interface Message {
  role: "system" | "user" | "assistant" | "tool";
  content: string | Json[] | null;
  tool_calls?: Json[];
  tool_call_id?: string;
  [key: string]: Json | undefined;
}

export interface PortableProblem {
  path: string;
  line: number | null;
  construct: string;
  /** `path:line: not portable: …`, as `loomgit check --portable` prints it. */
  message: string;
}

export type PortableMessage =
  | { role: "system" | "user" | "assistant"; template: string; line: number }
  | { role: "system" | "user" | "assistant"; text: string }
  | { role: "placeholder"; variable: string };

/** One prompt as `loomgit serve` answers it and a schema 2 bundle holds it. */
export interface PromptDescription {
  id: string;
  version: string;
  stage: string;
  content_hash: string;
  source_commit: string;
  path: string;
  description: string;
  model: string | null;
  params: { [key: string]: Json };
  /** A JSON Schema (draft 2020-12) of the variables object. */
  variables: { type: "object"; properties: { [name: string]: { [key: string]: Json } }; required: string[] };
  messages: Array<{ role: string; template?: string; variable?: string }>;
  tools: Json[];
  output: { format: "text" | "json"; schema: { [key: string]: Json } | null } | null;
  sample: { [name: string]: Json } | null;
  portable: boolean;
  portable_problems: PortableProblem[];
  portable_messages: PortableMessage[] | null;
  [key: string]: Json | undefined;
}

export interface BundleData {
  format: "loomgit-bundle";
  schema: 2;
  stage: string;
  branch?: string;
  commit?: string;
  exported_at?: string;
  prompts: { [id: string]: PromptDescription };
}

/** A bundle, prompt or server answer that cannot be used (one line). */
export class LoomgitError extends Error {
  status: number | null;
  type: string | null;
}

/** Bad variables or a failing template: the same one line loomgit prints. */
export class RenderError extends Error {
  reason: string;
  path: string | null;
  line: number | null;
}

export class Prompt {
  constructor(entry: PromptDescription, options?: { origin?: string; stale?: boolean });
  readonly entry: PromptDescription;
  readonly id: string;
  readonly version: string;
  readonly stage: string;
  readonly contentHash: string;
  readonly sourceCommit: string;
  readonly path: string;
  readonly model: string | null;
  readonly params: { [key: string]: Json };
  readonly tools: Json[];
  readonly output: PromptDescription["output"];
  readonly variables: PromptDescription["variables"];
  readonly portable: boolean;
  readonly portableProblems: PortableProblem[];
  readonly origin: string;
  /** True when served from the last good copy or a bundle because the server was down. */
  stale: boolean;
  /** Render the messages (throws LoomgitError when the prompt is not portable). */
  render(variables?: { [name: string]: Json } | null): Message[];
  /** `params` plus `tools` and `response_format`, ready to send with the messages. */
  requestParams(): { [key: string]: Json };
}

export class Bundle {
  constructor(data: BundleData | string, origin?: string);
  readonly data: BundleData;
  readonly stage: string;
  readonly origin: string;
  ids(): string[];
  get(id: string, options?: { stage?: string }): Prompt;
}

/** Read a bundle file written by `loomgit export` (Node). */
export function loadBundle(path: string): Promise<Bundle>;

export interface ClientOptions {
  /** Where `loomgit serve` listens, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Default stage of `get()` (default `production`). */
  stage?: string;
  /** Used when the server cannot be reached and no copy is kept: a Bundle or a file path. */
  fallback?: Bundle | string;
  /** A file keeping the last good copies across restarts (Node). */
  cacheFile?: string;
  /** Per request (default 2000). */
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
}

export interface Selector {
  stage?: string;
  version?: string;
  ref?: string;
}

export class Client {
  constructor(options: ClientOptions);
  get(id: string, selector?: Selector): Promise<Prompt>;
  list(options?: { stage?: string }): Promise<Array<{ id: string; version: string; stage: string; content_hash: string }>>;
  /** Render on the server: any prompt, portable or not. */
  renderRemote(id: string, variables?: { [name: string]: Json }, selector?: Selector): Promise<Message[]>;
}

export function resolveVariables(entry: PromptDescription, given?: { [name: string]: Json } | null): { [name: string]: Json };
export function pyRepr(value: Json): string;
export function pyStr(value: Json): string;
export const BUNDLE_FORMAT: "loomgit-bundle";
