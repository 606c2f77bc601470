"""The KMb content: tools, templates and campaigns, loaded from YAML and validated."""

from bot.content.loader import Catalogue, ContentError, load_catalogue
from bot.content.models import Campaign, Question, Template, Tool

__all__ = [
    "Campaign",
    "Catalogue",
    "ContentError",
    "Question",
    "Template",
    "Tool",
    "load_catalogue",
]
