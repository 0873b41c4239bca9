# A/B experiment between two prompt versions (sourced by .ci/demo, cwd = the demo
# repository): production holds 1.0.0, staging the newest version; simulated users are
# split between them, the status holds back its verdict until the minimum sample, and
# `conclude --promote` puts the winner on production. Offline. Outcomes go to a temporary
# SQLite file; the experiment lives on a scratch branch; the stage branches are put back
# as they were at the end, so later demo parts see the repository unchanged.
printf '\n# --- A/B experiment between prompt versions ---\n'
if ! "$LOOMGIT" promote --help >/dev/null 2>&1; then
  echo "(skipped: this loomgit has no 'promote' command yet)"
  return 0
fi
exp_demo_back=$(git symbolic-ref --short HEAD)
exp_demo_tmp=$(mktemp -d "${TMPDIR:-/tmp}/loomgit-exp-demo.XXXXXX")
exp_demo_refs=$(git for-each-ref --format='%(refname) %(objectname)' refs/heads/stage/)
export LOOMGIT_EXPERIMENTS_URL="sqlite:///$exp_demo_tmp/outcomes.sqlite"
exp_demo_py="$(dirname "$LOOMGIT")/python"
exp_demo_new=$("$LOOMGIT" list --json | "$exp_demo_py" -c \
  'import json,sys; print(next(p["version"] for p in json.load(sys.stdin) if p["id"] == "support/summarize"))')

git switch -q -c demo-experiments
"$LOOMGIT" promote support/summarize 1.0.0 --to staging >/dev/null
"$LOOMGIT" promote support/summarize 1.0.0 --to production >/dev/null
"$LOOMGIT" promote support/summarize "$exp_demo_new" --to staging >/dev/null
mkdir -p experiments
cat > experiments/summary-tone.yaml <<YAML
prompt: support/summarize
description: Do two-sentence summaries resolve more tickets?
variants:                      # the first one is the control
  control: "@production"       # 1.0.0
  treatment: support/summarize@$exp_demo_new
metric: {type: rate, name: resolved}
min_samples: 200               # per variant, before any p-value or verdict
confidence: 0.95
promote_to: production
YAML
git add experiments && git commit -q -m "experiment: summary-tone"
step cat experiments/summary-tone.yaml
step "$LOOMGIT" check experiments/summary-tone.yaml
step "$LOOMGIT" experiment assign summary-tone alice bob carol dave

# simulated traffic through the library, as an application would run it
exp_demo_traffic() {  # exp_demo_traffic FIRST LAST: users FIRST..LAST-1
  "$exp_demo_py" - "$1" "$2" <<'PY'
import random, sys
import loomgit
first, last = int(sys.argv[1]), int(sys.argv[2])
truth = {"control": 0.20, "treatment": 0.32}   # the true success rates
rng = random.Random(first)
with loomgit.experiment("summary-tone") as exp:
    for i in range(first, last):
        variant = exp.assign(f"user-{i}")
        variant.render({"ticket": "VPN is down"})          # what the model would get
        exp.record(variant, f"user-{i}", success=rng.random() < truth[variant.name])
print(f"(recorded users {first}..{last - 1})")
PY
}
exp_demo_traffic 0 150
step "$LOOMGIT" experiment status summary-tone
exp_demo_traffic 150 1500
step "$LOOMGIT" experiment status summary-tone
step "$LOOMGIT" experiment conclude summary-tone --promote
step git log -1 --format=%B stage/production

# put everything back as it was
git switch -q "$exp_demo_back"
git branch -q -D demo-experiments
for ref in $(git for-each-ref --format='%(refname)' refs/heads/stage/); do
  git update-ref -d "$ref"
done
if [ -n "$exp_demo_refs" ]; then
  while read -r ref sha; do git update-ref "$ref" "$sha"; done <<<"$exp_demo_refs"
fi
unset LOOMGIT_EXPERIMENTS_URL
rm -rf "$exp_demo_tmp"
