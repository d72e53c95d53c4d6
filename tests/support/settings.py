"""The environment variable name of every setting."""

from pydantic import BaseModel

from app.config import Settings


def env_var_names() -> set[str]:
    """XPULSE_<NAME> for each setting, XPULSE_<GROUP>__<NAME> for each nested one."""
    names = set()
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= {f"XPULSE_{name.upper()}__{sub.upper()}" for sub in annotation.model_fields}
        else:
            names.add(f"XPULSE_{name.upper()}")
    return names
