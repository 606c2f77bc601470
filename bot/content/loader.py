"""Load and cross-check every file in `content/`; problems name the file and the field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.content.models import Campaign, Library, Retention, Synonyms, Template, Tool

M = TypeVar("M", bound=BaseModel)

PACKAGED = Path(__file__).resolve().parent.parent.parent / "content"


class ContentError(Exception):
    """Content failed validation; `problems` holds `file: field: problem` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Catalogue:
    """Everything in `content/`, validated."""

    tools: dict[str, Tool] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    synonyms: list[list[str]] = field(default_factory=list)
    library: Library | None = None
    retention: Retention = field(default_factory=Retention)


def _load(path: Path, model: type[M], problems: list[str], root: Path) -> M | None:
    name = path.relative_to(root).as_posix()
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(f"{name}: (file): not valid YAML: {str(exc).splitlines()[0]}")
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(file)"
            problems.append(f"{name}: {where}: {err['msg']}")
        return None


def load_catalogue(root: Path | None = None) -> Catalogue:
    """Load `root` (default: the shipped content); raise ContentError listing every problem."""
    root = root or PACKAGED
    problems: list[str] = []
    cat = Catalogue()
    sections: list[tuple[str, type[BaseModel], dict[str, Any]]] = [
        ("tools", Tool, cat.tools),
        ("templates", Template, cat.templates),
        ("campaigns", Campaign, cat.campaigns),
    ]
    for folder, model, into in sections:
        files = sorted((root / folder).glob("*.yaml"))
        if not files:
            problems.append(f"{folder}/: (folder): no .yaml files found")
        for path in files:
            item = _load(path, model, problems, root)
            if item is None:
                continue
            slug = item.slug  # type: ignore[attr-defined]
            if slug != path.stem:
                problems.append(f"{folder}/{path.name}: slug: '{slug}' must match the file name")
            into[slug] = item
    lib_path = root / "library.yaml"
    if lib_path.exists():
        cat.library = _load(lib_path, Library, problems, root)
    retention_path = root / "retention.yaml"
    if retention_path.exists():
        cat.retention = _load(retention_path, Retention, problems, root) or Retention()
    syn_path = root / "synonyms.yaml"
    if syn_path.exists():
        syn = _load(syn_path, Synonyms, problems, root)
        if syn is not None:
            cat.synonyms = [[w.lower().strip() for w in g] for g in syn.groups]
    problems.extend(_cross_check(cat))
    if problems:
        raise ContentError(problems)
    return cat


def _cross_check(cat: Catalogue) -> list[str]:
    problems = []
    for tool in cat.tools.values():
        for i, rel in enumerate(tool.related):
            if rel not in cat.tools:
                problems.append(f"tools/{tool.slug}.yaml: related.{i}: unknown tool '{rel}'")
    for tpl in cat.templates.values():
        if tpl.tool not in cat.tools:
            problems.append(f"templates/{tpl.slug}.yaml: tool: unknown tool '{tpl.tool}'")
    for camp in cat.campaigns.values():
        for i, prompt in enumerate(camp.prompts):
            if prompt.tool not in cat.tools:
                problems.append(
                    f"campaigns/{camp.slug}.yaml: prompts.{i}.tool: unknown tool '{prompt.tool}'"
                )
    if cat.library is not None:
        from bot.features.enquiries import PURPOSES

        known = {value for value, _ in PURPOSES}
        for t in cat.library.teams:
            for i, purpose in enumerate(t.match.purposes):
                if purpose not in known:
                    problems.append(
                        f"library.yaml: teams.{t.slug}.match.purposes.{i}: unknown purpose "
                        f"'{purpose}' (one of {', '.join(sorted(known))})"
                    )
    return problems
