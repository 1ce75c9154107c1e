"""Prompt templating: amounts, dates and numbers in a display form and a speakable form per language."""

from bot.speech.spoken import Spoken, spoken_count, spoken_date, spoken_money, spoken_phone
from bot.speech.template import PLACEHOLDERS, Template, TemplateError

__all__ = [
    "PLACEHOLDERS",
    "Spoken",
    "Template",
    "TemplateError",
    "spoken_count",
    "spoken_date",
    "spoken_money",
    "spoken_phone",
]
