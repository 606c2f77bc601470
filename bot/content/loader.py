"""Load and cross-check every file in `content/`; problems name the file and the field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.content.models import (
    PURPOSES,
    Campaign,
    Library,
    Retention,
    Synonyms,
    Template,
    Tool,
)

M = TypeVar("M", bound=BaseModel)

PACKAGED = Path(__file__).resolve().parent.parent.parent / "content"


class ContentError(Exception):
    """Content failed validation; `problems` holds `file: field: problem` lines.

    `lines` gives, for a problem found in a file's YAML, the line it is on (1-based).
    """

    def __init__(self, problems: list[str], lines: dict[str, int] | None = None) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.lines = lines or {}


@dataclass
class Catalogue:
    """Everything in `content/`, validated."""

    tools: dict[str, Tool] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    synonyms: list[list[str]] = field(default_factory=list)
    library: Library | None = None
    retention: Retention = field(default_factory=Retention)


def line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """The line (1-based) of a field in YAML text, following a validation error's path (None
    when the field is missing: there is no line to point at)."""
    try:
        node: Any = yaml.compose(text)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line: int = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((kv for kv in node.value if kv[0].value == str(part)), None)
            if found is None:
                return None
            key, node = found
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return None
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _load(
    path: Path,
    model: type[M],
    problems: list[str],
    root: Path,
    lines: dict[str, int] | None = None,
) -> M | None:
    name = path.relative_to(root).as_posix()
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:  # where the parser gave up, as an editor counts lines
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        why = exc.problem or exc.context or "unreadable"
        problems.append(f"{name}: (file): not valid YAML{at}: {why}")
        return None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(f"{name}: (file): not valid YAML: {str(exc).splitlines()[0]}")
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(file)"
            problem = f"{name}: {where}: {err['msg']}"
            problems.append(problem)
            found = line_of(text, tuple(err["loc"]))
            if lines is not None and found is not None:
                lines[problem] = found
        return None


def load_catalogue(root: Path | None = None) -> Catalogue:
    """Load `root` (default: the shipped content); raise ContentError listing every problem."""
    root = root or PACKAGED
    problems: list[str] = []
    lines: dict[str, int] = {}
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
            item = _load(path, model, problems, root, lines)
            if item is None:
                continue
            slug = item.slug  # type: ignore[attr-defined]
            if slug != path.stem:
                problems.append(f"{folder}/{path.name}: slug: '{slug}' must match the file name")
            into[slug] = item
    lib_path = root / "library.yaml"
    if lib_path.exists():
        cat.library = _load(lib_path, Library, problems, root, lines)
    retention_path = root / "retention.yaml"
    if retention_path.exists():
        cat.retention = _load(retention_path, Retention, problems, root, lines) or Retention()
    syn_path = root / "synonyms.yaml"
    if syn_path.exists():
        syn = _load(syn_path, Synonyms, problems, root, lines)
        if syn is not None:
            cat.synonyms = [[w.lower().strip() for w in g] for g in syn.groups]
    problems.extend(_cross_check(cat))
    if problems:
        raise ContentError(problems, lines)
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
        known = {value for value, _ in PURPOSES}
        for t in cat.library.teams:
            for i, purpose in enumerate(t.match.purposes):
                if purpose not in known:
                    problems.append(
                        f"library.yaml: teams.{t.slug}.match.purposes.{i}: unknown purpose "
                        f"'{purpose}' (one of {', '.join(sorted(known))})"
                    )
    return problems
