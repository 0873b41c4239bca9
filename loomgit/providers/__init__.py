"""Model providers: one async interface over OpenAI-compatible servers, Anthropic, Gemini,
Cohere, and the offline ``echo`` and ``replay`` providers."""

from .base import Completion, Provider, Usage

__all__ = ["Completion", "Provider", "Usage"]
