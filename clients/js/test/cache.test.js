// Cache-Control max-age: within it no request is made (a fake fetch, no network).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { Client } from "../src/index.js";

const bundle = JSON.parse(readFileSync(new URL("../../../tests/fixtures/portable/bundle.json", import.meta.url)));

test("a fresh answer is used without asking again; a stale one is revalidated", async () => {
  const calls = [];
  const entry = bundle.prompts.basic;
  const fake = async (url, init) => {
    assert.equal(init.headers.authorization, "Bearer k");
    assert.equal(url, "http://127.0.0.1:1/v1/prompts/basic?stage=production");
    calls.push(init.headers["if-none-match"] ?? null);
    const etag = `"${entry.content_hash}"`;
    if (init.headers["if-none-match"] === etag) return new Response(null, { status: 304, headers: { etag } });
    return new Response(JSON.stringify(entry), {
      status: 200,
      headers: { etag, "cache-control": "max-age=60", "content-type": "application/json" },
    });
  };
  const client = new Client({ baseUrl: "http://127.0.0.1:1", fetch: fake, apiKey: "k" });
  await client.get("basic");
  await client.get("basic");
  assert.equal(calls.length, 1);
  for (const v of client.cache.values()) v.until = 0; // max-age passed
  await client.get("basic");
  assert.deepEqual(calls, [null, `"${entry.content_hash}"`]);
});

test("a 5xx answer falls back to the last good copy", async () => {
  let up = true;
  const entry = bundle.prompts.conditions;
  const fake = async () =>
    up
      ? new Response(JSON.stringify(entry), { status: 200, headers: { etag: '"x"' } })
      : new Response(JSON.stringify({ error: { type: "internal", message: "boom" } }), { status: 503 });
  const client = new Client({ baseUrl: "http://127.0.0.1:1", fetch: fake });
  assert.equal((await client.get("conditions")).stale, false);
  up = false;
  assert.equal((await client.get("conditions")).stale, true);
  const cold = new Client({ baseUrl: "http://127.0.0.1:1", fetch: fake });
  await assert.rejects(cold.get("conditions"), (e) => e.status === 503 && /boom/.test(e.message));
});

test("an answer that is not JSON is one clear error", async () => {
  const fake = async () => new Response("<html>proxy error</html>", { status: 200 });
  const client = new Client({ baseUrl: "http://127.0.0.1:1", fetch: fake });
  await assert.rejects(client.get("basic"), { message: "loomgit serve at http://127.0.0.1:1: the answer for 'basic' is not JSON" });
});
