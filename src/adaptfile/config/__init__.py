"""adapt.toml: the pydantic model, loading with located errors, and the JSON schema."""

from adaptfile.config.load import CONFIG_NAME, Project, find_config, load_project, parse_config
from adaptfile.config.model import STRATEGIES, AdaptConfig, parse_param_count

__all__ = [
    "CONFIG_NAME",
    "STRATEGIES",
    "AdaptConfig",
    "Project",
    "find_config",
    "load_project",
    "parse_config",
    "parse_param_count",
]
