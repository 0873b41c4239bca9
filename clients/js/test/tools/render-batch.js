// Renders a batch of templates for tests/test_portable_js.py: reads
// [{template, values}] as JSON from the file named by argv[2], prints [{out} | {error}].
import { readFileSync } from "node:fs";

import { compile, renderTemplate } from "../../src/render.js";

const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = cases.map(({ template, values }) => {
  try {
    return { out: renderTemplate(compile(template, "p.prompt", 1), values) };
  } catch (e) {
    return { error: e.message };
  }
});
process.stdout.write(JSON.stringify(out));
