"""The files a cold pass covers from its first round: the partials, tool files and
content parts that the prompts of the commit it folds to use.

A fold learns of an include outside the prompt globs where a version first uses it,
and the pass is then folded again with that file covered. A repository that moved
shared text into partials late in its history paid for that with a second pass. The
prompts of the last commit use (nearly) every include the pass will meet, so those are
found first, as a round that has met an include looks for more (every literal include
name in a file, and its tool files: a superset of what versions use), with a loader
that reads that commit's tree.

The rounds keep only a first round in which every file covered this way was used by
some version (it is then in the state's ``covered``). When one was not, the pass is
folded again without them (:mod:`loomgit.history.rounds`). So the state is the one
the rounds make without this step.
"""

from __future__ import annotations

from pathlib import Path

from loomgit._git.objects import BlobReader, tree_files
from loomgit.config import Config
from loomgit.errors import GitError
from loomgit.history.blobs import decode_blob
from loomgit.history.facts import FactsBuilder, meet_includes
from loomgit.history.memo import allowed
from loomgit.prompt.discover import glob_for
from loomgit.prompt.includes import FILE_MODES, include_roots


def used_at(
    config: Config, root: Path, sha: str, reader: BlobReader, builder: FactsBuilder
) -> set[str]:
    """The files outside the prompt globs that the prompts at ``sha`` include, read as
    a fold reads them (regular files only, within the include roots)."""
    roots = include_roots(config)
    folders = roots.all if all(r.endswith("/") for r in roots.all) else ()  # else all of it
    try:
        files = tree_files(root, sha, FILE_MODES, folders)
    except GitError:  # a damaged repository: the pass's own log names what git cannot read
        return set()

    def is_prompt(path: str) -> bool:
        return glob_for(config, path) is not None

    prompts = sorted(p for p in files if is_prompt(p))
    raw = reader.read_many([files[p] for p in prompts])  # and each include, once
    texts = {blob: decode_blob(data) for blob, data in raw.items()}
    found: set[str] = set()

    def text(blob: str) -> str | None:
        if blob not in texts:
            raw.update(reader.read_many([blob]))
            texts[blob] = decode_blob(raw[blob])
        return texts[blob]

    def load(name: str) -> str | None:
        blob = files.get(name) if allowed(name, roots) else None
        if blob is None:
            return None
        if not is_prompt(name):
            found.add(name)
        return text(blob)

    def data(name: str) -> bytes | None:  # a content part's bytes (prompt.media)
        load(name)  # recorded, and read, as an include is (a binary file has no text)
        blob = files.get(name) if allowed(name, roots) else None
        return None if blob is None else raw.get(blob)

    setattr(load, "data", data)  # noqa: B010
    for path in prompts:  # every include name and tool file, as a round looking for
        meet_includes(builder, texts.get(files[path]), path, load)  # more reads them
    return found
