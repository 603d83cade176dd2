"""adaptfile: make for LLM adaptation."""

__version__ = "0.1.0"
