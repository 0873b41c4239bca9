// Bad bundles and templates outside the subset are one clear error each.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { Bundle, LoomgitError, RenderError, loadBundle } from "../src/index.js";
import { compile } from "../src/render.js";

test("bad bundles", async () => {
  const cases = [
    ["{", /^b\.json: not a JSON bundle/],
    ['{"format": "other"}', /^b\.json: not a loomgit bundle \(write one with 'loomgit export/],
    ['{"format": "loomgit-bundle", "schema": 1, "prompts": {}}', /^b\.json: bundle schema 1 is not 2/],
    ['{"format": "loomgit-bundle", "schema": 2}', /^b\.json: bundle has no 'prompts' mapping$/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => new Bundle(text, "b.json"), (e) => e instanceof LoomgitError && message.test(e.message));
  }
  const b = new Bundle('{"format": "loomgit-bundle", "schema": 2, "stage": "production", "prompts": {}}', "b.json");
  assert.throws(() => b.get("x"), { message: /^'x' is not in the bundle b\.json \(it holds nothing\)$/ });
  assert.throws(() => b.get("x", { stage: "staging" }), /holds stage 'production', not 'staging'/);
  const dir = mkdtempSync(join(tmpdir(), "loomgit-js-"));
  await assert.rejects(loadBundle(join(dir, "none.json")), /none\.json: cannot read bundle \(ENOENT\)/);
  writeFileSync(join(dir, "bad.json"), "[]");
  await assert.rejects(loadBundle(join(dir, "bad.json")), /not a loomgit bundle/);
});

test("templates outside the subset are refused, naming the line", () => {
  for (const [source, line] of [
    ["a\n{{ x | upper }}", 11],
    ["{% set y = 1 %}", 10],
    ["{{ f(1) }}", 10],
    ["{{ a + 1 }}", 10],
    ["\n\n{% if a > 1 %}{% endif %}", 12],
    ["{% macro m() %}{% endmacro %}", 10],
    ["{{ [1] }}", 10],
    ["{% include 'x.md' %}", 10],
  ]) {
    assert.throws(
      () => compile(source, "p.prompt", 10),
      (e) => e instanceof RenderError && e.message.startsWith(`p.prompt:${line}: not portable: `),
      source,
    );
  }
});
