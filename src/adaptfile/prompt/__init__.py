"""Prompt templates: the one source of truth for ICL, RAG, training and serving prompts."""

from adaptfile.prompt.chat import (
    PLAIN_EOS,
    eos_token,
    format_prompt,
    has_chat_template,
    render_messages,
    training_text,
)
from adaptfile.prompt.template import (
    Passage,
    PromptTemplate,
    Shot,
    TemplateError,
    TemplateSecurityError,
    compile_template,
    load_template,
)

__all__ = [
    "PLAIN_EOS",
    "Passage",
    "PromptTemplate",
    "Shot",
    "TemplateError",
    "TemplateSecurityError",
    "compile_template",
    "eos_token",
    "format_prompt",
    "has_chat_template",
    "load_template",
    "render_messages",
    "training_text",
]
