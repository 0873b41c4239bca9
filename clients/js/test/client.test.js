// The client against a server on 127.0.0.1: ETag revalidation, a new version picked up,
// errors, and the fallbacks when the server is down (the last good copy, a cache file
// kept across restarts, a bundle). The server is a real `loomgit serve --bundle` started by
// the Python of LOOMGIT_PYTHON (default python3), or the command in LOOMGIT_SERVE_CMD
// ("{bundle}" and "{port}" are filled in).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { Client, LoomgitError } from "../src/index.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const FIXTURES = join(ROOT, "tests/fixtures/portable");
const expected = JSON.parse(readFileSync(join(FIXTURES, "expected.json"), "utf8"));
const dir = mkdtempSync(join(tmpdir(), "loomgit-js-"));
const bundlePath = join(dir, "prompts.json");
copyFileSync(join(FIXTURES, "bundle.json"), bundlePath);

let server;
let baseUrl;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function start() {
  const port = await freePort();
  const cmd = process.env.LOOMGIT_SERVE_CMD;
  const python = process.env.LOOMGIT_PYTHON ?? "python3";
  server = cmd
    ? spawn("sh", ["-c", `exec ${cmd.replaceAll("{bundle}", bundlePath).replaceAll("{port}", String(port))}`], {
        stdio: "ignore",
      })
    : spawn(python, ["-m", "loomgit", "serve", "--bundle", bundlePath, "--port", String(port), "--max-age", "0"], {
        stdio: "ignore",
      });
  baseUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(`${baseUrl}/v1/prompts?stage=production`);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server did not start at ${baseUrl}`);
}

function stop() {
  return new Promise((resolve) => {
    if (!server || server.exitCode !== null) return resolve();
    server.once("exit", () => resolve());
    server.kill();
  });
}

// a fetch that records each request's If-None-Match and each answer's status
function recording() {
  const log = [];
  const f = async (url, init) => {
    const res = await fetch(url, init);
    log.push({ url, inm: init?.headers?.["if-none-match"] ?? null, status: res.status });
    return res;
  };
  return { f, log };
}

before(start);
after(stop);

test("get() renders as loomgit does and revalidates with the ETag", async () => {
  const { f, log } = recording();
  const client = new Client({ baseUrl, fetch: f });
  const p = await client.get("basic");
  assert.equal(p.version, "1.0.0");
  assert.equal(p.portable, true);
  assert.deepEqual(p.render(), expected.basic.cases.sample.messages);
  const again = await client.get("basic");
  assert.equal(again.contentHash, p.contentHash);
  assert.equal(log.length, 2);
  assert.equal(log[0].status, 200);
  assert.deepEqual([log[1].inm, log[1].status], [`"${p.contentHash}"`, 304]);
  assert.deepEqual(
    (await client.list()).map((x) => x.id).sort(),
    Object.keys(expected).sort(),
  );
});

test("a new version on the server is picked up; errors are one line with the status", async () => {
  const client = new Client({ baseUrl });
  assert.equal((await client.get("loops")).version, "1.0.0");
  const data = JSON.parse(readFileSync(bundlePath, "utf8"));
  data.prompts.loops.version = "1.1.0";
  data.prompts.loops.content_hash = "sha256:changed";
  writeFileSync(`${bundlePath}.tmp`, JSON.stringify(data));
  renameSync(`${bundlePath}.tmp`, bundlePath);
  let seen = null;
  for (let i = 0; i < 50 && seen !== "1.1.0"; i++) {
    seen = (await client.get("loops")).version;
    if (seen !== "1.1.0") await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(seen, "1.1.0");
  await assert.rejects(client.get("no/such"), (e) => {
    assert.ok(e instanceof LoomgitError);
    assert.equal(e.status, 404);
    assert.ok(!e.message.includes("\n"));
    return true;
  });
});

test("with the server down: the last good copy, a kept cache file, then the bundle", async () => {
  const cacheFile = join(dir, "cache.json");
  const live = new Client({ baseUrl, cacheFile });
  const fresh = await live.get("conditions");
  assert.equal(fresh.stale, false);
  await stop();
  const last = await live.get("conditions");
  assert.equal(last.stale, true);
  assert.deepEqual(last.render({}), expected.conditions.cases.defaults.messages);
  // a new process: the copy kept in the cache file
  const restarted = new Client({ baseUrl, cacheFile, timeoutMs: 500 });
  const kept = await restarted.get("conditions");
  assert.equal(kept.stale, true);
  assert.equal(kept.contentHash, fresh.contentHash);
  // nothing kept: the bundle it was given
  const withBundle = new Client({ baseUrl, fallback: bundlePath, timeoutMs: 500 });
  const fromBundle = await withBundle.get("whitespace");
  assert.equal(fromBundle.stale, true);
  assert.deepEqual(fromBundle.render({}), expected.whitespace.cases.defaults.messages);
  // nothing at all: one clear error
  await assert.rejects(new Client({ baseUrl, timeoutMs: 500 }).get("basic"), /cannot be reached/);
  await start();
});
