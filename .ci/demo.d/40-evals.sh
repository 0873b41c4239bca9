# Evals: run the sample suite, see a broken prompt fail its gate, compare with HEAD,
# shard and merge, reports and stats (sourced by .ci/demo; cwd = the demo repo).
# Offline: the suite uses the echo provider; every file made here is removed at the end.
printf '\n# --- evals: suites, gates, --compare, shards, reports, stats ---\n'
evals_tmp=$(mktemp -d "${TMPDIR:-/tmp}/loomgit-evals-demo.XXXXXX")
evals_status=$(git status --porcelain)

step cat prompts/support/summarize.tests.yaml
step "$LOOMGIT" eval
step "$LOOMGIT" eval support/summarize --repeat 3 -v --junit "$evals_tmp/junit.xml" \
  --markdown "$evals_tmp/report.md"
step cat "$evals_tmp/report.md"

# a deliberately broken copy: the tone no longer reaches the system message
sed 's/Answer in a {{ tone }} tone\./Answer briefly.{# {{ tone }} #}/' \
  prompts/support/summarize.prompt > prompts/support/broken.prompt
cp prompts/support/summarize.tests.yaml prompts/support/broken.tests.yaml
printf '\n$ loomgit eval support/broken\n'
if "$LOOMGIT" eval support/broken; then
  echo "demo: the broken prompt should have failed its gate" >&2; exit 1
else
  echo "(exit $?: the gate failed, as it should)"
fi
rm prompts/support/broken.prompt prompts/support/broken.tests.yaml

# the same break in the real prompt, against the last commit: a regression
cp prompts/support/summarize.prompt "$evals_tmp/summarize.prompt"
sed -i 's/Answer in a {{ tone }} tone\./Answer briefly.{# {{ tone }} #}/' prompts/support/summarize.prompt
printf '\n$ loomgit eval --compare HEAD\n'
if "$LOOMGIT" eval --compare HEAD; then
  echo "demo: --compare should have found the regression" >&2; exit 1
else
  echo "(exit $?: a regression)"
fi
cp "$evals_tmp/summarize.prompt" prompts/support/summarize.prompt

# a large suite split over two CI jobs, then joined
step "$LOOMGIT" eval --shard 1/2 -o "$evals_tmp/shard1.json"
step "$LOOMGIT" eval --shard 2/2 -o "$evals_tmp/shard2.json"
step "$LOOMGIT" report merge "$evals_tmp/shard1.json" "$evals_tmp/shard2.json"
step "$LOOMGIT" stats
step "$LOOMGIT" stats --by version --json

if [ "$(git status --porcelain)" != "$evals_status" ]; then
  echo "demo: the evals demo left the working tree changed" >&2; git status --short >&2; exit 1
fi
rm -rf "$evals_tmp"
