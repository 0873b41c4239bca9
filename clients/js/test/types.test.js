// index.d.ts declares every export of index.js, and nothing it lacks.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import * as loomgit from "../src/index.js";

test("the type declarations match the module's exports", () => {
  const dts = readFileSync(new URL("../src/index.d.ts", import.meta.url), "utf8");
  const declared = [...dts.matchAll(/^export (?:class|function|const) (\w+)/gm)].map((m) => m[1]);
  assert.deepEqual([...new Set(declared)].sort(), Object.keys(loomgit).sort());
});
