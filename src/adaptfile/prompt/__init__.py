"""Prompt templates: the one source of truth for ICL, RAG, training and serving prompts."""
