// The shared fixtures (tests/fixtures/portable/): every case renders here exactly as
// loomgit renders it in Python (tests/test_portable.py checks the same expected.json).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { Bundle, LoomgitError, RenderError } from "../src/index.js";

const FIXTURES = fileURLToPath(new URL("../../../tests/fixtures/portable/", import.meta.url));
const read = (name) => JSON.parse(readFileSync(FIXTURES + name, "utf8"));
const bundle = new Bundle(read("bundle.json"), "bundle.json");
const cases = read("cases.json");
const expected = read("expected.json");

for (const [id, list] of Object.entries(cases)) {
  const want = expected[id];
  test(`${id}: portable is ${want.portable}`, () => {
    const p = bundle.get(id);
    assert.equal(p.portable, want.portable);
    assert.deepEqual(
      p.portableProblems.map((x) => x.message),
      want.problems,
    );
    if (!want.portable) {
      assert.throws(() => p.render(), (e) => e instanceof LoomgitError && e.message.includes("is not portable"));
    }
  });
  for (const c of list) {
    test(`${id}: ${c.name}`, () => {
      const p = bundle.get(id);
      const outcome = want.cases[c.name];
      if ("error" in outcome) {
        assert.throws(
          () => p.render(c.variables),
          (e) => {
            assert.ok(e instanceof RenderError, e.stack);
            assert.equal(e.message, outcome.error);
            return true;
          },
        );
      } else {
        assert.deepEqual(p.render(c.variables), outcome.messages);
      }
    });
  }
}

test("every fixture prompt has cases", () => {
  assert.deepEqual(Object.keys(cases).sort(), bundle.ids());
});
