"""``loomgit serve``: the prompts a stage holds, over HTTP, for applications in any language.

A Starlette application (:func:`loomgit.serve.app.create_app`) on Uvicorn
(:func:`loomgit.serve.run.serve`), reading stage branches from the repository or one
bundle file (:mod:`loomgit.serve.sources`), with API keys (:mod:`loomgit.serve.auth`),
metrics and a structured access log (:mod:`loomgit.serve.observe`). Installed with the
``serve`` extra (``pip install 'loomgit[serve]'``); nothing here is imported unless
``loomgit serve`` runs. Reference: ``docs/serve.md``.
"""
