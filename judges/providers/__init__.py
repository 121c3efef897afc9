"""One module per provider behind ``JudgeProvider`` (see base.py)."""

from judges.providers.anthropic_messages import AnthropicMessages
from judges.providers.base import Answer, CallError, JudgeProvider, Prompt, call_error
from judges.providers.openai_chat import OpenAIChat

__all__ = [
    "Answer",
    "AnthropicMessages",
    "CallError",
    "JudgeProvider",
    "OpenAIChat",
    "Prompt",
    "call_error",
    "provider_for",
]


def provider_for(*, provider: str, base_url: str, api_key: str, timeout: float) -> JudgeProvider:
    if provider == "anthropic":
        return AnthropicMessages(base_url=base_url or None, api_key=api_key, timeout=timeout)
    if provider in ("openai", "openai_compatible"):
        return OpenAIChat(
            base_url=base_url or None, api_key=api_key, timeout=timeout, compatible=provider == "openai_compatible"
        )
    raise ValueError(f"unknown provider {provider!r}")
