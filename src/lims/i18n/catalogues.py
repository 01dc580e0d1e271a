"""Keep the catalogues in step with the code: extract every message id and merge it into each `.po`.

Run ``python -m lims.i18n.catalogues`` from the repository root after adding or changing a text; new
ids arrive untranslated in zh_CN (the catalogue test then fails until someone translates them) and as
their own English in en.  ``pybabel extract -F babel.cfg -k _N -k _NC:1c,2`` reads the same ids.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from lims.i18n import LOCALES

KEYWORDS: dict[str, tuple[int | tuple[int, str], ...] | None] = {  # Babel's keyword specs
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "_N": None,
    "_NC": ((1, "c"), 2),
}
METHODS = [
    ("lims/i18n/__init__.py", "ignore"),
    ("lims/i18n/catalogues.py", "ignore"),
    ("lims/**.py", "python"),
    ("barcodes/**.py", "python"),
    ("instrument_drivers/card_photo/**.py", "python"),
    ("lims/web/templates/**.html", "jinja2"),
]
OPTIONS = {"lims/web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
HEADER = "# Texts of food-quicktest-lims. Updated by `python -m lims.i18n.catalogues`; translate the empty entries."
SOURCE = Path(__file__).resolve().parents[2]  # src/
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"


def extract(source: Path = SOURCE) -> Iterator[tuple[str | None, str, str]]:
    """Every (context, message id, where) in the code under `source`."""
    for filename, _lineno, message, _comments, context in extract_from_dir(
        source, METHODS, OPTIONS, keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True
    ):
        msgid = message[0] if isinstance(message, tuple | list) else message
        if isinstance(msgid, str) and msgid:
            yield context, msgid, filename


def catalogue_path(locale: str) -> Path:
    """The `.po` file of `locale`."""
    return LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"


def load(locale: str) -> Catalog:
    """The catalogue of `locale` as it is on disk."""
    with catalogue_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale)


def update(source: Path = SOURCE) -> dict[str, int]:
    """Merge the ids found in `source` into every catalogue; drop ids no longer used. Returns new ids per locale."""
    found: dict[tuple[str | None, str], list[str]] = {}
    for context, msgid, where in extract(source):
        found.setdefault((context, msgid), []).append(where)
    added: dict[str, int] = {}
    for locale in LOCALES.values():
        old = load(locale) if catalogue_path(locale).exists() else Catalog(locale=locale)
        new = Catalog(locale=locale, project="food-quicktest-lims", fuzzy=False, header_comment=HEADER)
        added[locale] = 0
        for (context, msgid), places in sorted(found.items(), key=lambda item: (item[0][0] or "", item[0][1])):
            previous = old.get(msgid, context=context)
            text = previous.string if previous is not None and isinstance(previous.string, str) else ""
            if previous is None:
                added[locale] += 1
                text = msgid if locale == "en" else ""
            flags = previous.flags if previous is not None else set()
            new.add(msgid, text, locations=[], flags=flags, context=context, auto_comments=sorted(set(places))[:3])
        path = catalogue_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, new, width=0, omit_header=False, sort_output=False)
    return added


if __name__ == "__main__":
    print(update(Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE))
