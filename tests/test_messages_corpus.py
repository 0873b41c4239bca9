"""Every bad conversation placeholder and content part in tests/corpus/messages gives one
clear line naming the file (and the line where there is one), exit 1 and no traceback,
through `loomgit check` and through `loomgit render`. The media files beside them are
committed with them; the one too large to keep in the tree is written by the test."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import CORPUS, GitRepo

# file -> (line check reports or None, text the message must contain)
EXPECTED = {
    "placeholder_not_list.prompt": (5, "variable 'history' must be a list of messages"),
    "placeholder_system_role.prompt": (5, "message 2: unknown role 'system'"),
    "placeholder_unknown_key.prompt": (4, "unknown key(s) speaker"),
    "placeholder_bad_part.prompt": (4, "part 2: url must be https:// or a data: URL"),
    "placeholder_bad_tool_call.prompt": (4, "with arguments as a JSON string"),
    "placeholder_inline.prompt": (8, "holds messages: put {{ history }} on a line of its own"),
    "placeholder_text_after.prompt": (11, "text after the conversation placeholder"),
    "image_missing.prompt": (8, "not found in the repository"),
    "image_too_large.prompt": (8, "is too large (5,000,008 bytes; images are limited to"),
    "image_wrong_type.prompt": (8, "is not a PNG, JPEG, GIF or WebP image"),
    "image_is_pdf.prompt": (8, "is a PDF document, not an image; use document(...)"),
    "image_git_config.prompt": (8, 'image ".git/config" is refused'),
    "image_http.prompt": (8, "only https:// and data: URLs"),
    "document_url.prompt": (8, "documents are sent as data, not URLs"),
    "image_in_text.prompt": (7, "must be output on its own"),
    "media_bad_data_url.prompt": (None, "data: URL: it must be data:TYPE;base64,DATA"),
    "media_not_string.prompt": (4, "variable 'photo' must be of type media, got int"),
}
MEDIA = {"manual.pdf", "not_a_png.png", "ok.png"}


def test_corpus_is_complete() -> None:
    on_disk = {p.name for p in (CORPUS / "messages").iterdir()}
    assert on_disk == set(EXPECTED) | MEDIA


@pytest.fixture
def corpus_repo(repo: GitRepo) -> GitRepo:
    shutil.copytree(CORPUS / "messages", repo.path / "prompts")
    repo.write({"prompts/huge.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 5_000_000})
    repo.commit("corpus")
    return repo


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_check_reports_one_clear_line(corpus_repo: GitRepo, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    line, text = EXPECTED[name]
    r = cli(["check", f"prompts/{name}"], cwd=corpus_repo.path)
    assert r.exit_code == 1, r.out + r.err
    errors = [ln for ln in r.out.splitlines() if ": error: " in ln]
    assert len(errors) == 1, r.out
    where = rf"prompts/{re.escape(name)}:{line}: " if line else rf"prompts/{re.escape(name)}: "
    assert re.match(where, errors[0]), errors[0]
    assert text in errors[0]
    assert "Traceback" not in r.out + r.err


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_render_fails_cleanly(corpus_repo: GitRepo, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    r = cli(["render", f"prompts/{name}"], cwd=corpus_repo.path)
    assert r.exit_code == 1, r.out + r.err
    assert r.out == ""
    err = r.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"loomgit: error: prompts/{name}"), r.err
    assert EXPECTED[name][1] in err[0]
    assert "Traceback" not in r.err
