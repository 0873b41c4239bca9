# The typed public surface of ``loomgit`` (``__init__.py`` imports each name on first use).
from typing import Any

from loomgit._version import __version__ as __version__
from loomgit.app.bundle import load as load
from loomgit.config import load_config as load_config
from loomgit.errors import ConfigError as ConfigError
from loomgit.errors import LoomgitError as LoomgitError
from loomgit.errors import PromptError as PromptError
from loomgit.errors import RenderError as RenderError
from loomgit.errors import SandboxError as SandboxError
from loomgit.experiments.api import experiment as experiment
from loomgit.findings import Finding as Finding
from loomgit.prompt.model import Prompt as Prompt
from loomgit.prompt.model import Variable as Variable
from loomgit.prompt.parse import parse_prompt as parse_prompt
from loomgit.prompt.parse import read_prompt as read_prompt
from loomgit.prompt.validate import validate_prompt as validate
from loomgit.workspace import Workspace as Workspace

__all__ = [
    "ConfigError",
    "Finding",
    "LoomgitError",
    "Prompt",
    "PromptError",
    "RenderError",
    "SandboxError",
    "Variable",
    "Workspace",
    "__version__",
    "experiment",
    "load",
    "load_config",
    "parse_prompt",
    "read_prompt",
    "render",
    "validate",
]

def render(prompt: Prompt, variables: dict[str, Any] | None = None) -> list[dict[str, str]]: ...
