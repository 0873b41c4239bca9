# loomgit serve in a container: the prompts of a bundle (or a mounted clone) over HTTP.
#
#   docker build -t loomgit-serve .
#   loomgit export --stage production -o prompts.json
#   docker run -p 8000:8000 -v "$PWD/prompts.json:/srv/prompts.json:ro" \
#     -e LOOMGIT_SERVE_KEYS="read:$READ_KEY execute:$EXEC_KEY" loomgit-serve
#
# A clone instead of a bundle: docker run ... loomgit-serve -C /srv/repo serve --host 0.0.0.0
# Stateless: run more copies behind a load balancer (docs/serve.md).
FROM python:3.12-slim

# git: loomgit reads stage branches with it (a bundle needs none, a clone does)
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build
COPY pyproject.toml README.md ./
COPY loomgit ./loomgit
COPY templates ./templates
COPY hooks ./hooks
RUN pip install --no-cache-dir '.[serve]' && rm -rf /build

RUN useradd --create-home --uid 10001 loomgit
USER loomgit
WORKDIR /srv
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s \
  CMD python -c "import urllib.request, sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
ENTRYPOINT ["loomgit"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--bundle", "/srv/prompts.json"]
