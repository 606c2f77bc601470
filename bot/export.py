"""`kmb export project ID`: a project's digests as Markdown, CSV or JSON, as in chat."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select

from bot.features.retros.digests import digest_data
from bot.store.models import Occasion, Project

if TYPE_CHECKING:
    from bot.engine import Engine

FORMATS = ("md", "csv", "json")


class ExportError(ValueError):
    """A project that can't be exported, with a message for the operator."""


def project_data(engine: Engine, project_id: int) -> dict[str, Any]:
    """The project and every occasion that has opened, with its digest data."""
    with engine.store.session() as s:
        project = s.get(Project, project_id)
        if project is None:
            raise ExportError(f"no project with id {project_id}")
        occasions = s.exec(
            select(Occasion)
            .where(Occasion.project_id == project_id, col(Occasion.status).in_(["open", "closed"]))
            .order_by(col(Occasion.opens_at), col(Occasion.id))
        ).all()
        return {
            "project": {
                "id": project.id,
                "name": project.name,
                "start": project.start_date.isoformat(),
                "end": project.end_date.isoformat(),
                "status": project.status,
            },
            "occasions": [digest_data(engine, s, o.id) for o in occasions if o.id is not None],
        }


def render(data: dict[str, Any], fmt: str) -> str:
    """The export in one format."""
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["occasion", "template", "status", "question", "author", "late", "answer"])
        for occ in data["occasions"]:
            for q in occ["questions"]:
                for a in q["answers"]:
                    writer.writerow(
                        [
                            occ["occasion"],
                            occ["template"],
                            occ["status"],
                            q["text"],
                            a["author"],
                            "yes" if a["late"] else "no",
                            a["text"],
                        ]
                    )
        return out.getvalue()
    if fmt != "md":
        raise ExportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    p = data["project"]
    lines = [f"# {p['name']} (#{p['id']})", "", f"Runs {p['start']} to {p['end']} · {p['status']}"]
    for occ in data["occasions"]:
        lines += [
            "",
            f"## {occ['template']} ({occ['status']})",
            "",
            f"{occ['answered']} of {occ['asked']} answered; {occ['shared_by']} shared as lessons.",
        ]
        for q in occ["questions"]:
            lines += ["", f"### {q['text']}", ""]
            if not q["answers"]:
                lines.append("_no answers_")
            for a in q["answers"]:
                late = " (late)" if a["late"] else ""
                lines.append(f"- **{a['author']}**{late}: {a['text']}")
    return "\n".join(lines) + "\n"
