"""The dashboard's gettext catalogs: `.po` files under `web/locale/`, read at startup (no `.mo` build step).

`python scripts/catalogs.py` extracts every `_()` / `{% trans %}` string of the templates and of
`poas/web/*.py` and merges it into each language's `.po` file; `missing()` lists what a language has
not translated yet (a test requires none for Bokmål).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, nodes

WEB = Path(__file__).parent
LOCALE_DIR = WEB / "locale"
DOMAIN = "messages"
LANGUAGES = ("nb", "en")  # the first one is the catalogs' reference translation (English is the source)
_METHODS = [("templates/**.html", "jinja2"), ("*.py", "python")]
_OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, domain=DOMAIN, project="poas")
    with path.open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


@cache
def translations(lang: str) -> NullTranslations:
    """The language's translations (fuzzy and empty entries fall back to the English msgid)."""
    if not po_path(lang).exists():
        return NullTranslations()
    buf = BytesIO()
    write_mo(buf, read_catalog(lang))
    buf.seek(0)
    return Translations(fp=buf, domain=DOMAIN)


def extract() -> Catalog:
    """Every translatable string of the dashboard: templates and the web package's Python."""
    template = Catalog(domain=DOMAIN, project="poas", charset="utf-8")
    found = extract_from_dir(
        WEB, method_map=_METHODS, options_map=_OPTIONS, keywords=DEFAULT_KEYWORDS, strip_comment_tags=True
    )
    for filename, lineno, message, comments, context in found:
        template.add(message, None, [(f"web/{filename}", lineno)], auto_comments=comments, context=context)
    for message, where in shown_strings():
        if message not in template:
            template.add(message, None, [(where, 0)])
    return template


# build_report's fixed notes (written inline there); a changed note is shown in English until added here.
REPORT_NOTES = (
    "Product spend is allocated from each campaign by the product's share of the campaign's "
    "attributed revenue that day; spend with no attributed sales stays in its own row.",
    "Orders with no Meta or Google campaign match are in the '(unattributed)' row.",
)


# Order financial statuses the platforms send besides the orders filter's (shown as `_(status)`).
OTHER_STATUSES = ("voided", "partially_paid", "expired")


def shown_strings() -> list[tuple[str, str]]:
    """English strings the read models hand to the templates, which show them as `_(value)`.

    Read from where they are defined, so the catalogs follow when a label changes there.
    """
    from poas.domain.advice import BASIS_LABELS
    from poas.services import channel_report, report, settings_overrides
    from poas.services.views import delivery_reasons as dr
    from poas.services.views import order_story, orders
    from poas.web.dashboard import ORDER_STATUSES

    out = [(label, "domain/advice.py") for label in BASIS_LABELS.values()]
    texts = [dr.TOO_OLD, dr.NO_REASON, *dr.NOT_QUEUED.values(), *dr.STATE_WORDS.values()]
    out += [(text, "services/views/delivery_reasons.py") for text in texts]
    out += [(note, "services/report.py") for note in (report.STALE_NOTE, *REPORT_NOTES)]
    out += [(channel_report.BLENDED_NOTE, "services/channel_report.py")]
    out += [(status, "domain/order.py") for status in (*ORDER_STATUSES, *OTHER_STATUSES)]
    for e in settings_overrides.editable():
        out += [(e.label, "services/settings_overrides.py"), (e.help, "services/settings_overrides.py")]
    steps = [label for _key, label, _x in (*orders._WATERFALL, *orders._REALIZED)]
    totals = ["Revenue incl. VAT", "Revenue ex VAT", "Expected profit", "Gross profit", "Realized profit"]
    out += [(label, "services/views/orders.py") for label in steps + totals]
    out += [(text, "services/views/order_story.py") for text in order_story.MESSAGES]
    return out


def update(langs: Iterable[str] = LANGUAGES) -> dict[str, list[str]]:
    """Merge the extracted strings into each `.po` file; returns each language's untranslated msgids.

    Strings no longer used are dropped (Babel keeps them as obsolete `#~` entries); new ones arrive
    empty, never fuzzy-matched to a neighbour (a wrong guess would read as translated).
    """
    template = extract()
    result = {}
    for lang in langs:
        catalog = read_catalog(lang)
        created, revised = catalog.creation_date, catalog.revision_date
        catalog.update(template, no_fuzzy_matching=True)
        # A re-run with nothing new leaves the file as it was (no date or line-number churn).
        catalog.creation_date, catalog.revision_date = created, revised
        catalog.fuzzy = False
        catalog.project, catalog.version = "poas", "1"
        catalog.copyright_holder, catalog.msgid_bugs_address = "the poas authors", ""
        catalog.last_translator = catalog.language_team = "the poas authors"
        path = po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(f, catalog, width=110, ignore_obsolete=True, include_lineno=False)
        result[lang] = missing(lang, template)
    translations.cache_clear()
    return result


def _key(msgid: str | tuple[str, ...] | list[str]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def missing(lang: str, template: Catalog | None = None) -> list[str]:
    """The msgids in use that `lang` leaves empty or fuzzy (for plurals: any empty form)."""
    template = template or extract()
    catalog = read_catalog(lang)
    out = []
    for msg in template:
        if not msg.id:
            continue
        have = catalog.get(msg.id, context=msg.context)
        if have is None or have.fuzzy:
            out.append(_key(msg.id))
            continue
        strings = list(have.string) if isinstance(have.string, tuple) else [have.string]
        if not all(strings):
            out.append(_key(msg.id))
    return out


_TAG_TAIL = re.compile(r"^[^<]*?>")  # the rest of a tag a `{{ }}` interrupted
_TAG_HEAD = re.compile(r"<[^>]*$")  # a tag that a `{{ }}` interrupts
_UNTRANSLATED_SKIP = re.compile(r"<(code|pre|script|style)\b[^>]*>.*?</\1>|<[^>]*>|&[#\w]+;", re.S)


# Names and commands that stay as they are in every language.
KEEP_AS_IS = frozenset({"AppendValue", "Meta", "poas outbox resume"})


def raw_text(folder: Path = WEB / "templates") -> list[tuple[str, str]]:
    """Visible template text outside `_()` / `{% trans %}` (code, URLs and markup left out): what a
    person should check before calling a page translated. Not every hit is a bug (brand names)."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    out = []
    for path in sorted(folder.glob("*.html")):
        if path.name.startswith("api_"):
            continue  # Swagger UI / ReDoc pages: the vendored tools' own words
        for node in env.parse(path.read_text(encoding="utf-8")).find_all(nodes.TemplateData):
            text = _TAG_HEAD.sub("", _TAG_TAIL.sub("", node.data))
            text = _UNTRANSLATED_SKIP.sub(" ", text)
            for piece in re.split(r"\s{2,}|\n", text):
                piece = piece.strip(" ·:;,.()–-")
                attribute_bits = "=" in piece or '"' in piece  # inside a tag split by {{ }} / {% %}
                words = " " in piece or piece[:1].isupper()  # not a lone class or keyword (bad, selected)
                keep = piece in KEEP_AS_IS or piece == "poas"
                if re.search(r"[A-Za-z]{3,}", piece) and words and not attribute_bits and not keep:
                    out.append((path.name, piece))
    return out
