"""The site's forms speak the page's language, WTForms' own messages included (README "Languages").

WTForms ships no Hindi, so its built-in validator and field messages ("This field is required.",
"Invalid email address.", the Length messages) are looked up in Seatline's own catalogue instead of
WTForms' (``SiteForm.Meta.get_translations``). ``BUILT_IN`` marks the ones the site's forms can show,
so ``make translations`` extracts them into ``translations/messages.pot`` with the site's strings.
"""

from __future__ import annotations

from typing import Any

from flask_babel import get_translations, lazy_gettext, lazy_ngettext
from flask_wtf import FlaskForm

BUILT_IN = (
    lazy_gettext("This field is required."),
    lazy_gettext("Invalid email address."),
    lazy_gettext("Not a valid choice."),
    lazy_gettext("Invalid Choice: could not coerce."),
    lazy_gettext("Invalid input."),
    lazy_gettext("Field must be equal to %(other_name)s."),
    lazy_gettext("Field must be between %(min)d and %(max)d characters long."),
    lazy_ngettext(
        "Field must be at least %(min)d character long.", "Field must be at least %(min)d characters long.", 1
    ),
    lazy_ngettext(
        "Field cannot be longer than %(max)d character.", "Field cannot be longer than %(max)d characters.", 1
    ),
    lazy_ngettext("Field must be exactly %(max)d character long.", "Field must be exactly %(max)d characters long.", 1),
)


class _PageTranslations:
    """WTForms' ``gettext``/``ngettext`` through the request's catalogue, without formatting: WTForms
    fills in ``%(min)d`` and the like itself (flask_babel's ``ngettext`` would fill ``%(num)d`` and
    fail on the rest)."""

    def gettext(self, string: str) -> str:
        return str(get_translations().ugettext(string))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return str(get_translations().ungettext(singular, plural, n))


PAGE_TRANSLATIONS = _PageTranslations()


class SiteForm(FlaskForm):
    """A fan-site form: ``FlaskForm`` whose built-in messages follow the page's language."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form: Any) -> _PageTranslations:
            return PAGE_TRANSLATIONS
