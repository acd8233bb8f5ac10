"""The plugin's credential forms, read from its provider YAML: what Dify's form would send."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scripts.check.plugin import PROVIDER, ROOT

BOUNDS = ("request_timeout", "max_retries")  # credentials that bound a call, in every form of this plugin


@dataclass
class Form:
    """The plugin's model types and credential forms, read from its provider YAML."""

    types: list[str]
    provider_fields: list[dict[str, Any]]
    model_fields: list[dict[str, Any]]

    @classmethod
    def load(cls, root: Path = ROOT) -> "Form":
        text = (root / "provider" / f"{PROVIDER}.yaml").read_text(encoding="utf-8")
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 10x faster

        def fields(schema: str) -> list[dict[str, Any]]:
            return list(((data.get(schema) or {}).get("credential_form_schemas")) or [])

        return cls(
            list(data.get("supported_model_types") or []),
            fields("provider_credential_schema"),
            fields("model_credential_schema"),
        )

    @property
    def names(self) -> set[str]:
        return {f["variable"] for f in self.provider_fields + self.model_fields} | set(BOUNDS)

    @property
    def secrets(self) -> set[str]:
        """The fields Dify's form hides (secret-input): the API key, extra headers."""
        return {
            f["variable"] for f in self.provider_fields + self.model_fields if f.get("type") == "secret-input"
        }

    def credentials(
        self, given: dict[str, str], model_type: str | None = None, uid: str = ""
    ) -> dict[str, str]:
        """What Dify's form would send: the defaults of the fields shown, then what was given.

        The timeout and retries always go along, also where the form has no such field: the
        plugin reads them from any credentials, so every call of the check stays bounded.
        """
        fields = self.provider_fields if model_type is None else (self.model_fields or self.provider_fields)
        names = {f["variable"] for f in fields} | set(BOUNDS)
        values = {k: v for k, v in given.items() if k in names}
        if model_type is not None and "model_uid" in names:
            values["model_uid"] = uid
        context = {"__model_type": model_type or "", **values}
        for f in fields:
            shown = all(context.get(c.get("variable")) == c.get("value") for c in f.get("show_on") or [])
            if shown and f.get("default") is not None and f["variable"] not in values:
                values[f["variable"]] = str(f["default"])
        return values
