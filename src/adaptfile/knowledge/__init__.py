"""Knowledge and RAG: load documents, chunk them, embed through a per-chunk cache, index, retrieve, measure."""
