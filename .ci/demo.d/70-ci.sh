# Pull-request check: `loomgit ci` as the GitHub Action runs it, simulated offline (sourced
# by .ci/demo, cwd = the demo repository): a pull-request branch that breaks a prompt, a
# fake event file, and a small stand-in for the GitHub API on 127.0.0.1 that this script
# starts and stops. The branch is deleted at the end; nothing leaves the machine.
printf '\n# --- pull-request check (loomgit ci, as the GitHub Action runs it) ---\n'
ci_demo_back=$(git symbolic-ref --short HEAD)
ci_demo_base=$(git rev-parse HEAD)
ci_demo_tmp=$(mktemp -d "${TMPDIR:-/tmp}/loomgit-ci-demo.XXXXXX")

git switch -q -c demo-pr
sed -i 's/Answer in a {{ tone }} tone./Answer briefly./' prompts/support/summarize.prompt
git commit -q -am "summarize: answer briefly"

# before pushing: what would the pull request's check say?
printf '\n$ loomgit ci --base %s --no-comment\n' "$ci_demo_back"
if "$LOOMGIT" ci --base "$ci_demo_back" --no-comment; then
  echo "demo: the check should have failed on the regression" >&2
  exit 1
fi
echo "(exit 1: the case 'casual' passed on $ci_demo_back and fails now)"

# the same on "GitHub": event file, summary and output files, and a fake API
cat > "$ci_demo_tmp/api.py" <<'PY'
import json, re, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
comments = []
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, data):
        raw = json.dumps(data).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw))); self.end_headers(); self.wfile.write(raw)
    def body(self):
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
    def do_GET(self):
        print("api:", "GET", self.path.split("?")[0], flush=True)
        self.reply(200, comments)
    def do_POST(self):
        print("api:", "POST", self.path, flush=True)
        comments.append({"id": len(comments) + 1, "body": self.body()["body"], "user": {"type": "Bot"},
                         "html_url": f"https://github.example/demo/pull/1#issuecomment-{len(comments) + 1}"})
        self.reply(201, comments[-1])
    def do_PATCH(self):
        print("api:", "PATCH", self.path, flush=True)
        c = comments[int(re.search(r"(\d+)$", self.path).group(1)) - 1]
        c["body"] = self.body()["body"]
        self.reply(200, c)
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
"$HERE/.venv/bin/python" "$ci_demo_tmp/api.py" "$ci_demo_tmp/port" > "$ci_demo_tmp/api.log" 2>&1 &
ci_demo_api=$!
for _ in $(seq 50); do [ -s "$ci_demo_tmp/port" ] && break; sleep 0.1; done
ci_demo_port=$(cat "$ci_demo_tmp/port")

ci_demo_push() {  # one pull-request run: event for the current commit, then `loomgit ci`
  printf '{"number": 1, "pull_request": {"number": 1, "base": {"ref": "%s", "sha": "%s", "repo": {"full_name": "demo/prompts"}}, "head": {"ref": "demo-pr", "sha": "%s", "repo": {"full_name": "demo/prompts"}}}}\n' \
    "$ci_demo_back" "$ci_demo_base" "$(git rev-parse HEAD)" > "$ci_demo_tmp/event.json"
  : > "$ci_demo_tmp/summary.md"; : > "$ci_demo_tmp/output"
  printf '\n$ loomgit ci    # on GitHub: GITHUB_EVENT_PATH, GITHUB_API_URL, GITHUB_TOKEN... set\n'
  GITHUB_ACTIONS=true GITHUB_EVENT_NAME=pull_request GITHUB_EVENT_PATH="$ci_demo_tmp/event.json" \
  GITHUB_REPOSITORY=demo/prompts GITHUB_API_URL="http://127.0.0.1:$ci_demo_port" \
  GITHUB_RUN_ID=7 GITHUB_TOKEN=ghs_demo_token_never_printed \
  GITHUB_STEP_SUMMARY="$ci_demo_tmp/summary.md" GITHUB_OUTPUT="$ci_demo_tmp/output" \
  RUNNER_TEMP="$ci_demo_tmp" "$LOOMGIT" ci && ci_demo_rc=0 || ci_demo_rc=$?
  echo "(exit $ci_demo_rc)"
}

ci_demo_push
printf '\n$ head -n 12 $GITHUB_STEP_SUMMARY\n'; head -n 12 "$ci_demo_tmp/summary.md"
# a second push to the pull request: the same comment is updated, not duplicated
sed -i 's/Answer briefly./Answer very briefly./' prompts/support/summarize.prompt
git commit -q -am "summarize: answer very briefly"
ci_demo_push
printf '\n# the step outputs ($GITHUB_OUTPUT):\n'
awk -F'<<' '/<<ghadelimiter_/ { name = $1; getline; print "  " name " = " $0 }' "$ci_demo_tmp/output"
printf '\n# what the fake GitHub API was asked (one POST, then a PATCH of the same comment):\n'
cat "$ci_demo_tmp/api.log"
if grep -rq ghs_demo_token_never_printed "$ci_demo_tmp"/summary.md "$ci_demo_tmp"/loomgit "$ci_demo_tmp"/output; then
  echo "demo: the token leaked into a file" >&2
  exit 1
fi

kill "$ci_demo_api"; wait "$ci_demo_api" 2>/dev/null || true
rm -rf "$ci_demo_tmp"
git switch -q "$ci_demo_back"
git branch -q -D demo-pr
