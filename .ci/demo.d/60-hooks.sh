# Commit-time guards: loomgit's plain git hooks on real commits (sourced by .ci/demo, cwd =
# the demo repository). The commits happen on a scratch branch that is deleted at the end
# and the hooks are uninstalled again, so later demo parts see the repository as it was.
printf '\n# --- commit-time guards (plain git hooks) ---\n'
hooks_demo_back=$(git symbolic-ref --short HEAD)
hooks_demo_out=$(mktemp "${TMPDIR:-/tmp}/loomgit-hooks-demo.XXXXXX")
git switch -q -c demo-hooks
step "$LOOMGIT" hooks install

expect_blocked() {  # expect_blocked MESSAGE WHY: a commit the hooks must refuse, saying WHY
  printf '\n$ git commit -m "%s"\n' "$1"
  if git commit -q -m "$1" > "$hooks_demo_out" 2>&1; then
    cat "$hooks_demo_out"; rm -f "$hooks_demo_out"
    echo "demo: that commit should have been blocked" >&2
    return 1
  fi
  cat "$hooks_demo_out"
  if ! grep -q "$2" "$hooks_demo_out"; then
    rm -f "$hooks_demo_out"
    echo "demo: blocked, but not for the expected reason ($2)" >&2
    return 1
  fi
  rm -f "$hooks_demo_out"
  echo "(blocked, as it should be)"
}

# a template that uses a variable it does not declare
sed -i 's/{{ ticket }}/{{ ticket }} (for {{ team }})/' prompts/support/summarize.prompt
git add prompts/support/summarize.prompt
expect_blocked "summarize: address the team" "variable 'team' is used but not declared"

# the fix exists in the working tree but is not staged: the hook checks what is committed
git restore --source=HEAD --worktree prompts/support/summarize.prompt
expect_blocked "summarize: address the team (fix not staged)" "variable 'team'"
git restore --staged prompts/support/summarize.prompt

# a good change passes
printf 'Keep it under three lines.\n' >> prompts/support/summarize.prompt
git add prompts/support/summarize.prompt
step git commit -q -m "summarize: three lines"
step git log -1 --format=%B

# a hand commit on a stage branch is refused (only `loomgit promote` writes them)
if git show-ref -q --verify refs/heads/stage/production; then
  git switch -q stage/production; hooks_demo_made_stage=
else
  git switch -q -c stage/production; hooks_demo_made_stage=1
fi
git commit -q --allow-empty -m "hand edit" > "$hooks_demo_out" 2>&1 && hooks_demo_rc=0 || hooks_demo_rc=$?
printf '\n$ git commit --allow-empty -m "hand edit"   # on stage/production\n'
cat "$hooks_demo_out"; rm -f "$hooks_demo_out"
if [ "$hooks_demo_rc" -eq 0 ]; then
  echo "demo: a hand commit on stage/production was not refused" >&2
  exit 1
fi
echo "(refused, as it should be)"
git switch -q demo-hooks
if [ -n "$hooks_demo_made_stage" ]; then git branch -q -D stage/production; fi

step "$LOOMGIT" hooks uninstall
git switch -q "$hooks_demo_back"
git branch -q -D demo-hooks
rm -f "$hooks_demo_out"
