"""Antonym prompt sets for CLIP teachers.

A prompt set names, per attribute, one or more antonym pairs ``[positive,
negative]`` and optionally a list of templates. Without templates each pair is
fed to the text encoder verbatim ("Sharp photo." / "Blurry photo."). With
templates, each pair holds words and every template turns it into one sentence
pair: ``"a {} photo."`` x ``["sharp", "blurry"]`` -> ``("a sharp photo.",
"a blurry photo.")``. Scores from all expanded pairs of an attribute are averaged
as probabilities (DESIGN §1).

Prompt sets live as YAML files in ``iqa/conf/prompts/`` and are selected with
``prompts=<name>``; :func:`expand_prompts` gives the exact texts that a teacher
encodes, which the label manifest records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from iqa.attributes import ATTRIBUTES
from iqa.errors import UserError, suggest


@dataclass(frozen=True)
class PromptSet:
    name: str
    pairs: dict[str, list[tuple[str, str]]]
    templates: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], attributes: Sequence[str] = ATTRIBUTES) -> PromptSet:
        """Validate a prompt-set mapping (as composed by Hydra) and build a ``PromptSet``."""
        name = str(cfg.get("name") or "unnamed")
        raw_pairs = cfg.get("pairs")
        if not isinstance(raw_pairs, Mapping):
            raise UserError(f"prompt set '{name}' needs a 'pairs' mapping of attribute -> [[positive, negative], ...]")
        unknown = [a for a in raw_pairs if a not in attributes]
        if unknown:
            raise UserError(
                f"prompt set '{name}' has pairs for unknown attribute(s) {unknown}{suggest(unknown[0], attributes)}; "
                f"valid attributes: {', '.join(attributes)}"
            )
        missing = [a for a in attributes if a not in raw_pairs or not raw_pairs[a]]
        if missing:
            raise UserError(f"prompt set '{name}' has no pairs for: {', '.join(missing)}")
        pairs: dict[str, list[tuple[str, str]]] = {}
        for attr in attributes:
            checked = []
            for pair in raw_pairs[attr]:
                if isinstance(pair, str) or len(pair) != 2 or not all(isinstance(t, str) and t.strip() for t in pair):
                    raise UserError(
                        f"prompt set '{name}', attribute '{attr}': each pair must be [positive, negative] "
                        f"with two non-empty strings, got {list(pair) if not isinstance(pair, str) else pair!r}"
                    )
                checked.append((pair[0], pair[1]))
            pairs[attr] = checked
        templates = tuple(cfg.get("templates") or ())
        for template in templates:
            if not isinstance(template, str) or template.count("{}") != 1:
                raise UserError(f"prompt set '{name}': template {template!r} must contain '{{}}' exactly once")
        return cls(name=name, pairs=pairs, templates=templates)

    def expand(self) -> dict[str, list[tuple[str, str]]]:
        """Per attribute, the exact ``(positive, negative)`` sentences fed to the text encoder."""
        if not self.templates:
            return {attr: list(pairs) for attr, pairs in self.pairs.items()}
        return {
            attr: [(t.format(pos), t.format(neg)) for pos, neg in pairs for t in self.templates]
            for attr, pairs in self.pairs.items()
        }


def expand_prompts(cfg: Mapping[str, Any], attributes: Sequence[str] = ATTRIBUTES) -> dict[str, list[tuple[str, str]]]:
    """Shortcut: validate ``cfg`` and return the expanded sentence pairs per attribute."""
    return PromptSet.from_config(cfg, attributes).expand()
