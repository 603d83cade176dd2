"""Using a build: load a variant's model, adapter, retriever and prompt once, and answer questions."""

from adaptfile.runtime.artifacts import VariantArtifacts, load_artifacts, manifest_variants
from adaptfile.runtime.runtime import Answer, Citation, Runtime

__all__ = ["Answer", "Citation", "Runtime", "VariantArtifacts", "load_artifacts", "manifest_variants"]
