# Providers: run a rendered prompt against a model (sourced by .ci/demo; cwd = demo repo).
# Offline: echo needs nothing; the "local model" is bench/mock_openai.py on 127.0.0.1,
# started and stopped here.

# echo answers with the rendered prompt: no key, no server
step "$LOOMGIT" render support/summarize --run --model echo
step "$LOOMGIT" render support/summarize --run --model echo --var ticket="VPN is down" --json

# a real model without its key: one line that names the variable (exit 2)
(unset OPENAI_API_KEY; step "$LOOMGIT" render support/summarize --run) || echo "(exit $?)"

# a local model server on localhost: the mock answers Ollama's /api/chat as Ollama would
mock_out=$(mktemp)
"$HERE/.venv/bin/python" "$HERE/bench/mock_openai.py" --port 0 --latency-ms 30 >"$mock_out" 2>&1 &
mock_pid=$!
trap 'kill "$mock_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q '^mock OpenAI server on' "$mock_out" && break; sleep 0.1; done
mock_url=$(sed -n 's/^mock OpenAI server on //p' "$mock_out")
echo "local model server: ${mock_url%/v1}"
export OLLAMA_HOST=${mock_url#http://}
OLLAMA_HOST=${OLLAMA_HOST%/v1}
step "$LOOMGIT" render support/summarize --run --model ollama/llama3.2
step "$LOOMGIT" render support/summarize --run --model ollama/llama3.2 --json
kill "$mock_pid"; wait "$mock_pid" 2>/dev/null || true

# a flaky server: the first request gets 429 (Retry-After: 0); the retry answers
"$HERE/.venv/bin/python" "$HERE/bench/mock_openai.py" --port 0 --fail-rate 0.5 --fail-status 429 \
  --seed 1 >"$mock_out" 2>&1 &
mock_pid=$!
for _ in $(seq 50); do grep -q '^mock OpenAI server on' "$mock_out" && break; sleep 0.1; done
mock_url=$(sed -n 's/^mock OpenAI server on //p' "$mock_out")
OLLAMA_HOST=${mock_url#http://}
OLLAMA_HOST=${OLLAMA_HOST%/v1}
step "$LOOMGIT" render support/summarize --run --model ollama/llama3.2
kill "$mock_pid"; wait "$mock_pid" 2>/dev/null || true
trap - EXIT
unset OLLAMA_HOST
rm -f "$mock_out"
