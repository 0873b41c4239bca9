"""Evaluations: test suites run against prompts, with assertions, gates and records.

- ``suite_model`` is a suite as data; ``suite`` parses, loads and checks suite files;
- ``assertions`` judge one answer; ``gates`` and ``distribution`` decide a case and a suite;
- ``targets`` chooses the suites and pairs each prompt (at a version) with its suite;
- ``rendering``, ``models`` and ``services`` are what a run needs: messages per case, the
  model client, and the judge/embedding services of the assertions;
- ``runner`` runs targets with bounded concurrency; ``cases`` and ``results`` hold what
  came out; ``records`` appends every run to ``.git/loomgit/runs.sqlite``;
- ``engine`` is the entry point (``evaluate``); ``compare`` evaluates BASE and the working
  tree and ``comparison`` compares the two reports case by case.
"""
