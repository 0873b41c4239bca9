"""Content parts: `{{ image(...) }}`, `{{ document(...) }}` and `media` variables become
image_url / file parts of the message, from tracked repository files (the include rule),
https URLs or data: URLs, checked for size and type; their bytes are in the content hash."""

from __future__ import annotations

import base64
import json

import pytest
from conftest import GitRepo

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0" + b"\x10JFIF" + bytes(40)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

SHOT = """---
variables:
  question: string
  photo: {type: media, required: false}
sample: {question: "What is broken?"}
---
system:
You look at screenshots.

user:
{{ question }}
{{ image("prompts/img/shot.png") }}
Manual:
{{ document("prompts/img/manual.pdf") }}
"""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def shots(repo: GitRepo) -> GitRepo:
    repo.commit(
        "shots",
        {
            "prompts/shot.prompt": SHOT,
            "prompts/img/shot.png": PNG,
            "prompts/img/manual.pdf": PDF,
            "prompts/img/other.jpg": JPEG,
        },
    )
    return repo


def messages(cli, repo: GitRepo, *args: str) -> list[dict]:  # type: ignore[no-untyped-def]
    r = cli(["render", "shot", "--json", *args], cwd=repo.path)
    assert r.exit_code == 0, r.err
    return json.loads(r.out)["messages"]  # type: ignore[no-any-return]


def test_image_and_document_become_parts(shots: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    got = messages(cli, shots)
    assert got[0] == {"role": "system", "content": "You look at screenshots."}
    assert got[1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is broken?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64(PNG)}"}},
            {"type": "text", "text": "Manual:"},
            {
                "type": "file",
                "file": {
                    "filename": "manual.pdf",
                    "file_data": f"data:application/pdf;base64,{b64(PDF)}",
                },
            },
        ],
    }


def test_human_render_names_parts_without_their_bytes(shots: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["render", "shot"], cwd=shots.path)
    assert r.exit_code == 0, r.err
    assert r.out.split("\n\n")[1].splitlines() == [
        "user:",
        "What is broken?",
        f"[image image/png, {len(PNG)} bytes]",
        "Manual:",
        f"[document manual.pdf, application/pdf, {len(PDF)} bytes]",
    ]
    assert b64(PNG)[:20] not in r.out


def test_media_variable_takes_a_path_a_url_or_a_data_url(shots: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    shots.commit(
        "photo", {"prompts/shot.prompt": SHOT.replace("Manual:\n", "{{ photo }}\nManual:\n")}
    )
    parts = messages(cli, shots, "--var", "photo=prompts/img/other.jpg")[1]["content"]
    assert parts[2] == {
        "type": "image_url",
        "image_url": {"url": f"data:image/jpeg;base64,{b64(JPEG)}"},
    }
    url = "https://example.com/a.png?size=large"
    parts = messages(cli, shots, "--var", f"photo={url}")[1]["content"]
    assert parts[2] == {"type": "image_url", "image_url": {"url": url}}
    data = f"data:image/png;base64,{b64(PNG)}"
    parts = messages(cli, shots, "--var", f"photo={data}")[1]["content"]
    assert parts[2] == {"type": "image_url", "image_url": {"url": data}}
    pdf = messages(cli, shots, "--var", "photo=prompts/img/manual.pdf")[1]["content"][2]
    assert pdf["type"] == "file" and pdf["file"]["filename"] == "manual.pdf"
    # not given (optional): no part at all
    assert len(messages(cli, shots)[1]["content"]) == 4


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        ("prompts/img/untracked.png", 'image "prompts/img/untracked.png" is refused'),
        ("../outside.png", 'image "../outside.png" is refused'),
        ("/etc/passwd", 'image "/etc/passwd" is refused'),
        ("docs/elsewhere.png", 'image "docs/elsewhere.png" is refused'),
        ("prompts/img/link.png", 'image "prompts/img/link.png" is refused'),
        ("file:///etc/passwd", "only https:// and data: URLs are taken"),
        ("prompts/img/shot.prompt.png", "is not a PNG, JPEG, GIF or WebP image"),
    ],
)
def test_only_tracked_files_under_the_roots(shots: GitRepo, cli, ref: str, problem: str) -> None:  # type: ignore[no-untyped-def]
    (shots.path / "docs").mkdir()
    (shots.path / "docs/elsewhere.png").write_bytes(PNG)
    (shots.path / "prompts/img/shot.prompt.png").write_text("---\nnot an image\n")
    (shots.path / "prompts/img/link.png").symlink_to("shot.png")
    shots.commit("more")
    (shots.path / "prompts/img/untracked.png").write_bytes(PNG)  # written after the commit
    shots.git("rm", "-q", "--cached", "prompts/img/untracked.png", check=False)
    text = SHOT.replace("prompts/img/shot.png", ref)
    shots.write({"prompts/shot.prompt": text})
    for cmd in (["render", "shot"], ["check", "prompts/shot.prompt"]):
        r = cli(cmd, cwd=shots.path)
        assert r.exit_code == 1, (cmd, r.out, r.err)
        out = r.err if cmd[0] == "render" else r.out
        line = [ln for ln in out.splitlines() if "error" in ln]
        assert len(line) == 1 and problem in line[0], out
        assert "prompts/shot.prompt:12:" in line[0]


def test_size_limits(shots: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    big = b"\x89PNG\r\n\x1a\n" + bytes(4_900_000)
    five = "\n".join(['{{ image("prompts/img/big.png") }}'] * 5)
    shots.commit(
        "big",
        {
            "prompts/img/big.png": big,
            "prompts/img/huge.pdf": b"%PDF-1.4\n" + bytes(10_000_000),
            "prompts/shot.prompt": SHOT.replace('{{ image("prompts/img/shot.png") }}', five),
        },
    )
    r = cli(["render", "shot"], cwd=shots.path)
    assert r.exit_code == 1
    assert r.err.strip() == (
        "loomgit: error: prompts/shot.prompt:16: the message parts of this prompt add up to "
        "more than 20,000,000 bytes"
    )
    shots.write({"prompts/shot.prompt": SHOT.replace("manual.pdf", "huge.pdf")})
    r = cli(["render", "shot"], cwd=shots.path)
    assert r.exit_code == 1
    assert "is too large (10,000,009 bytes; documents are limited to 10,000,000)" in r.err


def test_a_value_cannot_forge_a_part(shots: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    forged = "\x00part:0000000000000000:0\x00 and part:0"
    got = messages(cli, shots, "--var", f"question={forged}")
    assert got[1]["content"][0] == {"type": "text", "text": forged}
    assert [p["type"] for p in got[1]["content"]] == ["text", "image_url", "text", "file"]


def test_no_parts_keeps_content_a_string(shots: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    shots.commit("plain", {"prompts/plain.prompt": "user:\nNo pictures here: image(\n"})
    r = cli(["render", "plain", "--json"], cwd=shots.path)
    assert json.loads(r.out)["messages"] == [
        {"role": "user", "content": "No pictures here: image("}
    ]


def test_the_bytes_are_in_the_content_hash(shots: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    def row() -> dict:  # type: ignore[type-arg]
        return json.loads(cli(["list", "--json"], cwd=shots.path).out)[0]  # type: ignore[no-any-return]

    first = row()
    assert (first["version"], first["modified"]) == ("1.0.0", False)
    shots.write({"prompts/img/shot.png": PNG + b"changed"})
    changed = row()
    assert changed["modified"] is True and changed["version"].startswith("1.1.0-dev+")
    assert changed["content_hash"] != first["content_hash"]
    shots.commit("new screenshot")
    log = json.loads(cli(["log", "shot", "--json"], cwd=shots.path).out)
    assert log[0]["version"] == "1.1.0"
    assert 'included "prompts/img/shot.png" changed' in log[0]["reasons"]
    r = cli(["diff", "shot@1.0.0", "shot@1.1.0"], cwd=shots.path)
    assert f"-image/png, {len(PNG)} bytes, sha256 " in r.out
    assert f"+image/png, {len(PNG) + 7} bytes, sha256 " in r.out
    # a file the prompt does not name changes nothing
    shots.commit("other", {"prompts/img/other.jpg": JPEG + b"x"})
    assert row()["version"] == "1.1.0"


def test_library_render_needs_the_repository_for_files(shots: GitRepo) -> None:
    import loomgit
    from loomgit.errors import RenderError

    ws = loomgit.Workspace(shots.path)
    got = ws.render("shot", {"question": "q"})
    assert [p["type"] for p in got[1]["content"]] == ["text", "image_url", "text", "file"]
    with pytest.raises(RenderError, match="no repository to read it from"):
        ws.prompt("shot").render({"question": "q"})  # no loader: no files


def test_a_stage_and_its_bundle_render_the_parts(shots: GitRepo, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import loomgit

    assert cli(["promote", "shot", "1.0.0", "--to", "staging"], cwd=shots.path).exit_code == 0
    bundle = tmp_path / "bundle.json"
    r = cli(["export", "--stage", "staging", "-o", str(bundle)], cwd=shots.path)
    assert r.exit_code == 0, r.err
    shots.commit("later", {"prompts/img/shot.png": JPEG})  # the stage keeps its own bytes
    want = messages(cli, shots)[1]["content"]
    want[1] = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64(PNG)}"}}
    for got in (
        loomgit.load("shot", stage="staging", repo=shots.path),
        loomgit.load("shot", stage="staging", bundle=bundle),
    ):
        assert got.render({"question": "What is broken?"})[1]["content"] == want
