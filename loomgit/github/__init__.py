"""GitHub Actions and the GitHub REST API, as ``loomgit ci`` uses them.

This package knows GitHub, not loomgit's prompts or reports; one module per concern:

- :mod:`~loomgit.github.env`: the Actions environment (``GITHUB_*`` variables and the
  event file) read into a frozen :class:`ActionsEnv`;
- :mod:`~loomgit.github.commands`: what a step tells the runner: workflow commands
  (annotations), step outputs, the job summary;
- :mod:`~loomgit.github.comment`: the comment marker and Markdown cut to GitHub's limits;
- :mod:`~loomgit.github.client`: the REST client that keeps one comment per marker;
- :mod:`~loomgit.github.redact`: secret values kept out of everything written.

The token goes into the ``Authorization`` header and nowhere else: it is kept out of
``repr``, error messages and anything written to files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# eager: the submodule's import would otherwise bind the name ``redact`` to the module
from loomgit.github.redact import SECRET_SUFFIXES, Redactor, redact
from loomgit.lazy import attributes

if TYPE_CHECKING:
    from loomgit.github.client import (
        MAX_PAGES,
        CommentForbidden,
        CommentResult,
        GitHubClient,
        GitHubError,
    )
    from loomgit.github.commands import (
        SUMMARY_LIMIT,
        Annotation,
        escape_command_data,
        escape_command_property,
        workflow_command,
        write_outputs,
        write_summary,
    )
    from loomgit.github.comment import (
        COMMENT_LIMIT,
        MARKER_PREFIX,
        fit_comment,
        marker_for,
        truncate_markdown,
    )
    from loomgit.github.env import (
        DEFAULT_API_URL,
        DEFAULT_SERVER_URL,
        ActionsEnv,
        EventError,
        PullRequest,
        load_event,
        pull_request_from_event,
    )

__all__ = [
    "COMMENT_LIMIT",
    "DEFAULT_API_URL",
    "DEFAULT_SERVER_URL",
    "MARKER_PREFIX",
    "MAX_PAGES",
    "SECRET_SUFFIXES",
    "SUMMARY_LIMIT",
    "ActionsEnv",
    "Annotation",
    "CommentForbidden",
    "CommentResult",
    "EventError",
    "GitHubClient",
    "GitHubError",
    "PullRequest",
    "Redactor",
    "escape_command_data",
    "escape_command_property",
    "fit_comment",
    "load_event",
    "marker_for",
    "pull_request_from_event",
    "redact",
    "truncate_markdown",
    "workflow_command",
    "write_outputs",
    "write_summary",
]

# name -> its module: importing the package loads none of them (an eval that only redacts
# its report does not load the REST client or the Actions environment)
_LAZY = {
    "MAX_PAGES": "client",
    "CommentForbidden": "client",
    "CommentResult": "client",
    "GitHubClient": "client",
    "GitHubError": "client",
    "SUMMARY_LIMIT": "commands",
    "Annotation": "commands",
    "escape_command_data": "commands",
    "escape_command_property": "commands",
    "workflow_command": "commands",
    "write_outputs": "commands",
    "write_summary": "commands",
    "COMMENT_LIMIT": "comment",
    "MARKER_PREFIX": "comment",
    "fit_comment": "comment",
    "marker_for": "comment",
    "truncate_markdown": "comment",
    "DEFAULT_API_URL": "env",
    "DEFAULT_SERVER_URL": "env",
    "ActionsEnv": "env",
    "EventError": "env",
    "PullRequest": "env",
    "load_event": "env",
    "pull_request_from_event": "env",
}


__getattr__ = attributes(__name__, _LAZY)
