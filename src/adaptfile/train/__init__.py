"""The training library: data, packing, models, the recipe, checkpoints, preflight, metrics, launch."""
