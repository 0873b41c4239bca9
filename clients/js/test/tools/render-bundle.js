// Renders prompts of a bundle for tests/test_portable_js.py: argv[2] a bundle file,
// argv[3] a JSON file of [{id, variables}]; prints [{messages} | {error}].
import { readFileSync } from "node:fs";

import { loadBundle } from "../../src/index.js";

const bundle = await loadBundle(process.argv[2]);
const cases = JSON.parse(readFileSync(process.argv[3], "utf8"));
const out = cases.map(({ id, variables }) => {
  try {
    return { messages: bundle.get(id).render(variables) };
  } catch (e) {
    return { error: e.message };
  }
});
process.stdout.write(JSON.stringify(out));
