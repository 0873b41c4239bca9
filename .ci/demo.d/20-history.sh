# History: versions derived from git history (sourced by .ci/demo; cwd = the demo repo).
# Adds one prompt (prompts/support/triage.prompt) with a few commits on main; a feature
# branch is made and deleted again; the working tree is left clean.

# the demo's three commits: first appearance, a text change (minor), a tag (patch)
step "$LOOMGIT" list
step "$LOOMGIT" log support/summarize
step "$LOOMGIT" log support/summarize --json
step "$LOOMGIT" show support/summarize@1.0.0
step "$LOOMGIT" render support/summarize@1.1 --var ticket="VPN is down"
step "$LOOMGIT" diff support/summarize@1.0.0 support/summarize@1.1.1

# a new prompt that includes a partial, then changes of every kind; partials/ sits beside
# prompts/, so loomgit.yaml names it as a folder templates may include from
mkdir -p prompts/support partials
printf 'Answer in a calm, friendly tone.\n' > partials/tone.md
printf 'includes: [partials/]\n' >> loomgit.yaml
cat > prompts/support/triage.prompt <<'PROMPT'
---
description: Route a support ticket to a team
model: openai/gpt-4o-mini
params: {temperature: 0}
variables:
  ticket: {type: string}
  teams: {type: array, default: [billing, outage, other]}
sample: {ticket: "I was charged twice"}
---
system:
You route tickets. {% include "partials/tone.md" %}

user:
Which of {{ teams | join(", ") }} should handle this? {{ ticket }}
PROMPT
git add -A && git commit -q -m "triage: new prompt"
sed -i 's/temperature: 0}/temperature: 0.1}/' prompts/support/triage.prompt
git commit -q -am "triage: a little temperature"              # minor: params
printf 'Answer in a calm, friendly tone. Never guess.\n' > partials/tone.md
git commit -q -am "tone: never guess"                          # minor: through the include
sed -i 's/^description: .*/description: Route a ticket to the right team/' prompts/support/triage.prompt
git commit -q -am "triage: describe"                           # patch
sed -i 's/^  ticket: {type: string}/  ticket: {type: string}\n  customer: {type: string}/' prompts/support/triage.prompt
sed -i 's/? {{ ticket }}/? {{ customer }} wrote: {{ ticket }}/' prompts/support/triage.prompt
git commit -q -am "triage: name the customer"                  # major: a required variable
mkdir -p prompts/routing
git mv prompts/support/triage.prompt prompts/routing/triage.prompt
git commit -q -m "move triage to routing"                      # patch: moved, same content
step "$LOOMGIT" log routing/triage
step "$LOOMGIT" diff routing/triage@1.0.0 @2.0.1
step "$LOOMGIT" render routing/triage@1.0.0 --json

# uncommitted changes get the version they would get, with a dev suffix
sed -i 's/Never guess./Never guess. Be brief./' partials/tone.md
step "$LOOMGIT" status
step "$LOOMGIT" diff routing/triage --render --var customer=Ada
git checkout -q -- partials/tone.md

# versions made off the main branch are provisional
git switch -q -c demo-history
sed -i 's/temperature: 0.1}/temperature: 0.2}/' prompts/routing/triage.prompt
git commit -q -am "triage: warmer"
step "$LOOMGIT" log routing/triage
git switch -q main
git branch -q -D demo-history

# bad references: one line, exit 1
for bad in routing/triage@9.9.9 routing/triage@nonsense no/such@1.0.0; do
  printf '\n$ loomgit render %s\n' "$bad"
  if "$LOOMGIT" render "$bad"; then echo "expected a failure" >&2; exit 1; else echo "(exit $?)"; fi
done
