# Batch runs: a CSV of reviews through a sentiment prompt against a local OpenAI-compatible
# server, with quarantine, a budget stop and --resume, a pipeline file, cost before and
# lineage/report after (sourced by .ci/demo; cwd = the demo repo). Offline: the "model" is
# a tiny sentiment server on 127.0.0.1 started and stopped here.
printf '\n# --- batch runs: run, quarantine, resume, cost, lineage, report ---\n'
batch_demo_tmp=$(mktemp -d "${TMPDIR:-/tmp}/loomgit-batch-demo.XXXXXX")
cat > "$batch_demo_tmp/sentiment_server.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = body["messages"][-1]["content"]
        if "???" in text:
            answer = "Hard to say."  # not JSON: the record is quarantined
        else:
            good = any(w in text.lower() for w in ("great", "love", "excellent", "works"))
            answer = json.dumps({"sentiment": "positive" if good else "negative"})
        data = json.dumps({"choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": answer}}],
                           "usage": {"prompt_tokens": 30, "completion_tokens": 6}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"http://127.0.0.1:{srv.server_address[1]}/v1", flush=True)
srv.serve_forever()
PY
"$HERE/.venv/bin/python" "$batch_demo_tmp/sentiment_server.py" >"$batch_demo_tmp/url" 2>&1 &
batch_demo_pid=$!
trap 'kill "$batch_demo_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$batch_demo_tmp/url" ] && break; sleep 0.1; done
batch_demo_url=$(cat "$batch_demo_tmp/url")
echo "local sentiment model: $batch_demo_url"

cat >> loomgit.yaml <<EOF
providers:
  shop: {type: openai, base_url: "$batch_demo_url", retries: 0}
pricing:
  "shop/*": {input: 0.50, output: 1.50}   # pretend it costs, to show budgets
EOF
mkdir -p prompts/reviews data pipelines
cat > prompts/reviews/sentiment.prompt <<'EOF'
---
description: Sentiment of a product review
model: shop/sentiment-small
params: {temperature: 0, max_tokens: 20}
variables:
  review: {type: string}
  stars: {type: integer, required: false, default: 0}
output:
  format: json
  schema:
    type: object
    required: [sentiment]
    properties: {sentiment: {enum: [positive, negative, neutral]}}
sample: {review: "Works great"}
---
system:
Classify the sentiment of the product review. Answer with JSON {"sentiment": ...}.

user:
{{ review }}{% if stars %} ({{ stars }} stars){% endif %}
EOF
{
  printf 'id,text,stars\n'
  for i in $(seq 1 40); do
    case $((i % 4)) in
      0) printf '%s,"Love it, works great",5\n' "$i" ;;
      1) printf '%s,Stopped working after a week,1\n' "$i" ;;
      2) printf '%s,"Excellent value, would buy again",4\n' "$i" ;;
      3) printf '%s,Too loud,2\n' "$i" ;;
    esac
  done
  printf '41,"Is it good???",3\n'          # the model answers with text, not JSON
  printf '42,Missing a column\n'            # a row with a missing column
  printf '43,"Caf\xe9 was cold",2\n'        # a byte that is not UTF-8
  printf '44,Fine,three\n'                  # stars is not a whole number
} > data/reviews.csv
git add loomgit.yaml prompts/reviews data && git commit -q -m "reviews: sentiment prompt and data"

# before: what will it cost? (tokens estimated from the rendered prompts)
step "$LOOMGIT" cost reviews/sentiment --input data/reviews.csv --map review=text

# a run that stops before its budget, then continues where it stopped
printf '\n$ loomgit run reviews/sentiment --input data/reviews.csv --map review=text --output out/reviews.jsonl --concurrency 1 --budget 0.0008\n'
if "$LOOMGIT" run reviews/sentiment --input data/reviews.csv --map review=text \
     --output out/reviews.jsonl --concurrency 1 --budget 0.0008; then
  echo "demo: the budget should have stopped that run" >&2; exit 1
fi
echo "(exit 1: stopped by the budget)"
step "$LOOMGIT" run reviews/sentiment --input data/reviews.csv --map review=text \
  --output out/reviews.jsonl --resume --budget 1
step head -c 600 out/reviews.jsonl; echo
step cat out/reviews.quarantine.jsonl

# the same run, declared in a pipeline file that `loomgit check` validates
cat > pipelines/reviews.yaml <<'EOF'
description: Sentiment of product reviews
prompt: reviews/sentiment
input: data/reviews.csv
map: {review: text}
concurrency: 4
output: out/pipeline.jsonl
budget: 1.00
EOF
step "$LOOMGIT" check pipelines/reviews.yaml
git add pipelines && git commit -q -m "reviews: pipeline"
step "$LOOMGIT" run --pipeline reviews --json

# after: lineage and a self-contained HTML report, kept with the sample repository
# (under reports/, untracked) so it can be opened once the demo is done
step "$LOOMGIT" promote reviews/sentiment 1.0.0 --to staging
step "$LOOMGIT" lineage reviews/sentiment
mkdir -p reports
step "$LOOMGIT" report --html reports/overview.html
grep -q "reviews/sentiment" reports/overview.html
echo "overview: $PWD/reports/overview.html ($(wc -c < reports/overview.html) bytes, no scripts, no external links)"
# the review page: the first version of the summary prompt against today's, case by case
printf '
$ loomgit eval support/summarize --compare %s -o reports/compare.json
' "$(git rev-list --max-parents=0 HEAD | cut -c1-7)"
"$LOOMGIT" eval support/summarize --compare "$(git rev-list --max-parents=0 HEAD)" \
  -o reports/compare.json >/dev/null && echo "(exit 0)" || echo "(exit $?: see the review page)"
step "$LOOMGIT" report --html reports/review.html --results reports/compare.json
grep -q "support/summarize@" reports/review.html
echo "review page: $PWD/reports/review.html"

kill "$batch_demo_pid"; wait "$batch_demo_pid" 2>/dev/null || true
trap - EXIT
rm -rf "$batch_demo_tmp" out
