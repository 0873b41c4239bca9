"""What a fold knows of paths and files: the id a path's glob gives it, which paths
the log pass covers, and the texts of the blobs read so far."""

from __future__ import annotations

from collections.abc import Iterable

from loomgit.config import Config
from loomgit.history.blobs import Read, decode_blob
from loomgit.history.state import State
from loomgit.prompt.discover import is_suite, match


class Paths:
    def __init__(self, config: Config, state: State, read: Read, covered: set[str] | None) -> None:
        self.config = config
        self.state = state
        self._read = read
        self.pass_covered = set(state.covered if covered is None else covered)
        self.texts: dict[str, str | None] = {}
        self._id_cache: dict[str, str | None] = {}

    def prompt_id(self, path: str) -> str | None:
        """The id a path's glob gives it (None: not a prompt path)."""
        if path in self._id_cache:
            pid = self._id_cache[path]
        else:
            pid = None
            if not is_suite(path):
                for spec in self.config.prompts:
                    pid = match(spec, path)
                    if pid is not None:
                        break
            if len(self._id_cache) > 100_000:
                self._id_cache.clear()
            self._id_cache[path] = pid
        if pid is None and path in self.state.followed:
            return self._followed_id(path)
        return pid

    def _followed_id(self, path: str) -> str | None:
        """The id of a path outside the globs until the commit that moves it into them."""
        st = self.state
        for sha, pid in st.followed[path]:
            if sha == st.commit or sha not in st.commits:
                return pid
        return None

    def in_pass(self, path: str) -> bool:
        return self.prompt_id(path) is not None or path in self.pass_covered

    def prefetch(self, keys: Iterable[str]) -> None:
        want = [k for k in keys if k and k not in self.texts]
        if want:
            for k, data in self._read(want).items():
                self.texts[k] = decode_blob(data)

    def text(self, blob: str) -> str | None:
        if blob not in self.texts:
            self.prefetch([blob])
        return self.texts.get(blob)

    def drop_texts(self, keep: set[str]) -> None:
        self.texts = {k: v for k, v in self.texts.items() if k in keep}
