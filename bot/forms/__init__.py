"""Forms: the flow protocol with its typed contexts (`flow`), and the runner (`runner`)."""

from bot.forms.flow import BaseFlow, Context, EnquiryContext, FormFlow, NoContext
from bot.forms.runner import FORM_RULES, FORM_WORDS, FormRunner, unquote

__all__ = [
    "FORM_RULES",
    "FORM_WORDS",
    "BaseFlow",
    "Context",
    "EnquiryContext",
    "FormFlow",
    "FormRunner",
    "NoContext",
    "unquote",
]
