# Stages: promote a version through staging and production, roll back, export a bundle and
# load it in an "application" with no git around (sourced by .ci/demo; cwd = the demo repo).
# Offline: the remote is a bare repository in a temporary folder, removed at the end.
printf '\n# --- stages: promote, rollback, export, loomgit.load() ---\n'
stages_demo_tmp=$(mktemp -d "${TMPDIR:-/tmp}/loomgit-stages-demo.XXXXXX")
stages_demo_py="$(dirname "$LOOMGIT")/python"
echo "uncommitted edit" >> prompts/support/summarize.prompt
stages_demo_status=$(git status --porcelain)

step "$LOOMGIT" promote support/summarize 1.0.0 --to staging
step "$LOOMGIT" promote support/summarize 1.0.0 --to production
# production only takes a version that was on staging first
printf '\n$ loomgit promote support/summarize latest --to production\n'
if "$LOOMGIT" promote support/summarize latest --to production; then
  echo "demo: that promotion should have been refused" >&2; exit 1
fi
echo "(refused, as it should be)"
step "$LOOMGIT" promote support/summarize latest --to staging --json
step "$LOOMGIT" promote support/summarize 1.0.0 --to production   # already there: a no-op
step "$LOOMGIT" promote support/summarize staging --to production
step "$LOOMGIT" stages
step "$LOOMGIT" list
step "$LOOMGIT" render support/summarize@production --var ticket="VPN is down"
step "$LOOMGIT" rollback support/summarize --stage production
step "$LOOMGIT" log support/summarize --stage production
step git log -1 --format=%B stage/production

# the working tree was never touched
[ "$(git status --porcelain)" = "$stages_demo_status" ] || { echo "demo: working tree changed" >&2; exit 1; }
git checkout -q -- prompts/support/summarize.prompt

# a bundle for an application image that ships no .git (and has no git program)
step "$LOOMGIT" export --stage production -o "$stages_demo_tmp/app/prompts.json"
cat > "$stages_demo_tmp/app/app.py" <<'PY'
import loomgit
p = loomgit.load("support/summarize", stage="production")   # from $LOOMGIT_BUNDLE
print(p.id, p.version)
for m in p.render(ticket="Printer on floor 3 is on fire"):
    print(f"[{m['role']}] {m['content']}")
PY
printf '\n$ cd app && LOOMGIT_BUNDLE=prompts.json python app.py   # no .git, no git on PATH\n'
(cd "$stages_demo_tmp/app" && env -i PATH="$(dirname "$stages_demo_py")" HOME="$stages_demo_tmp" \
  LOOMGIT_BUNDLE="$stages_demo_tmp/app/prompts.json" "$stages_demo_py" app.py)

# sharing stages: push to a remote (never forced), and a rejected push after a race
git init -q --bare -b main "$stages_demo_tmp/remote.git"
git remote add demo-remote "$stages_demo_tmp/remote.git"
git push -q demo-remote HEAD:refs/heads/main
step "$LOOMGIT" promote support/summarize latest --to production --push --remote demo-remote
git clone -q "$stages_demo_tmp/remote.git" "$stages_demo_tmp/teammate"
(cd "$stages_demo_tmp/teammate" && "$LOOMGIT" rollback support/summarize --stage production \
  --fetch --push -m "teammate: back to 1.0.0" >/dev/null)
printf '\n$ loomgit rollback support/summarize --stage production --push --remote demo-remote\n'
if "$LOOMGIT" rollback support/summarize --stage production --push --remote demo-remote; then
  echo "demo: that push should have been rejected" >&2; exit 1
fi
echo "(rejected, as it should be: the local stage is as it was)"
step "$LOOMGIT" stages --fetch --remote demo-remote
git remote remove demo-remote
rm -rf "$stages_demo_tmp"
