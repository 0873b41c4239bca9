"""Moves into the globs from paths outside them.

``git log -M`` over the prompt globs cannot pair a file added under the globs with the
file it came from when that one lies outside them (git limits both sides of a diff to
the pathspec before it looks for renames). So each prompt line that began with an add
is checked against a whole-tree diff of its commit (one ``git diff-tree --stdin -M``
for all of them). A rename found there makes the old path a prompt path, with the id
the new path has, for the commits before that move: the next pass over the history
reads it too, and the line keeps the versions it had there. A move that cannot be
followed is recorded, so ``list`` and ``check`` can say so.
"""

from __future__ import annotations

from loomgit._git import log as gitlog
from loomgit._git.log import Moved
from loomgit._git.objects import BlobReader
from loomgit.history.blobs import decode_blob
from loomgit.history.fold import Folder
from loomgit.prompt.discover import match_any_id

NOT_FILE = "the old path is not a regular file"
NOT_TEXT = "the old file is binary, not UTF-8 or over 1 MB"
NOT_SEEN = "git saw no rename (the file changed too much, or the commit moved too many files)"
TOO_DEEP = "the chain of moves is too long"

Seen = dict[str, list[Moved]]  # commit -> renames and deletions of its whole-tree diff


def _load(root: str, folder: Folder, seen: Seen) -> None:
    want = sorted({(c, p) for c, p, _, _ in folder.orphans if c not in seen})
    got = gitlog.moves(root, want)
    for c, _ in want:
        seen[c] = got.get(c, [])


def _renames(folder: Folder, seen: Seen) -> list[tuple[str, str, int, Moved]]:
    """(commit, new path, line key, rename) for each line that began with a move from
    a path the pass did not read."""
    out = []
    for c, _, path, key in folder.orphans:
        for m in seen.get(c, ()):
            if m.status == "R" and m.new_path == path:
                if match_any_id(folder.config, m.old_path) is None:  # else the pass saw it
                    out.append((c, path, key, m))
                break
    return out


def follow(root: str, folder: Folder, reader: BlobReader, seen: Seen) -> bool:
    """Record in ``folder.state.followed`` the moves into the globs this fold began lines
    with; True when there is a new one (the history must then be folded again)."""
    _load(root, folder, seen)
    st = folder.state
    found = _renames(folder, seen)
    texts = reader.read_many(sorted({m.old_blob for _, _, _, m in found if m.old_regular}))
    new = False
    for c, _, key, m in found:
        entries = st.followed.setdefault(m.old_path, [])
        if any(e[0] == c for e in entries) or not m.old_regular:
            continue
        if decode_blob(texts.get(m.old_blob)) is None:
            continue
        line = st.lines[key]
        entries.append([c, line.recs[0].id if line.recs else line.id])
        new = True
    order = st.commits
    for p, entries in list(st.followed.items()):
        if not entries:
            del st.followed[p]
        else:
            entries.sort(key=lambda e: order[e[0]][0] if e[0] in order else 0)
    return new


def _tail(a: str, b: str) -> int:
    n = 0
    for x, y in zip(reversed(a.split("/")), reversed(b.split("/")), strict=False):
        if x != y:
            break
        n += 1
    return n


def _missed(path: str, moved: list[Moved]) -> str | None:
    """A deletion in the same commit that looks like this file's old place: same file
    name, and the one sharing the most trailing path components with it."""
    best: list[tuple[int, str]] = []
    for m in moved:
        if m.status == "D" and m.old_regular:
            n = _tail(m.old_path, path)
            if n:
                best.append((n, m.old_path))
    if not best:
        return None
    best.sort(reverse=True)
    if len(best) > 1 and best[0][0] == best[1][0]:
        return None  # no way to tell which one it was
    return best[0][1]


def mark_unfollowed(root: str, folder: Folder, reader: BlobReader, seen: Seen) -> None:
    """Record in ``folder.state.unfollowed`` each line of this fold whose first version
    is a move from a path that could not be followed, with why."""
    _load(root, folder, seen)
    st = folder.state
    renamed = {key: m for _, _, key, m in _renames(folder, seen)}
    texts = reader.read_many(sorted({m.old_blob for m in renamed.values() if m.old_regular}))
    for c, _, path, key in folder.orphans:
        m = renamed.get(key)
        if m is not None:
            if not m.old_regular:
                why = NOT_FILE
            elif decode_blob(texts.get(m.old_blob)) is None:
                why = NOT_TEXT
            else:
                why = TOO_DEEP
            st.unfollowed[key] = [m.old_path, why]
            continue
        old = _missed(path, seen.get(c, []))
        if old is not None:
            st.unfollowed[key] = [old, NOT_SEEN]
