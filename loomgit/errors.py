"""One error base for loomgit; the CLI turns each into one line and an exit code.

The class decides the exit code (the README's table): 0 success, 1 checks or evals
failed (bad prompt, bad reference, bad variables), 2 usage error (bad option, malformed
configuration or suite), 3 infrastructure error (git, network, provider), 4 internal
error (a bug in loomgit). Errors defined in other packages subclass the base whose code
they mean (``class SuiteError(UsageError, PromptError)`` is a usage error that is also
about a file); nothing sets ``exit_code`` on an instance or overrides it in a subclass.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INFRA = 3
EXIT_INTERNAL = 4


class LoomgitError(Exception):
    """An error a person can act on. ``str()`` gives ``path:line: message`` (or
    ``path:line:col: message`` when the column is known)."""

    exit_code = EXIT_FAILED

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.col = col

    def __str__(self) -> str:
        if self.path and self.line and self.col:
            return f"{self.path}:{self.line}:{self.col}: {self.message}"
        if self.path and self.line:
            return f"{self.path}:{self.line}: {self.message}"
        if self.path:
            return f"{self.path}: {self.message}"
        return self.message


class UsageError(LoomgitError):
    """The command was called wrongly (bad option value, unknown stage name...)."""

    exit_code = EXIT_USAGE


class ConfigError(LoomgitError, ValueError):
    """``loomgit.yaml`` is malformed."""

    exit_code = EXIT_USAGE


class PromptError(LoomgitError, ValueError):
    """A prompt file cannot be read, parsed or validated."""


class RenderError(PromptError):
    """A prompt cannot be rendered with the given variables."""


class SandboxError(RenderError):
    """A template tried something the sandbox forbids (unsafe attribute, too large, too slow)."""


class IncludeRefused(RenderError):
    """A template includes a file the include rule does not allow (see prompt.includes)."""


class RefError(LoomgitError):
    """A reference (``ID``, ``ID@1.2.0``, ``ID@production``) does not resolve."""


class InfraError(LoomgitError):
    """Something outside loomgit failed: git, the network, a provider."""

    exit_code = EXIT_INFRA


class GitError(InfraError):
    """A git command failed, or this is not a usable git repository."""


class ProviderError(InfraError):
    """A model provider could not answer."""


class PluginError(InfraError):
    """An installed plugin (an entry point in ``loomgit.providers`` or
    ``loomgit.assertions``) cannot be imported or gives something loomgit cannot use."""
