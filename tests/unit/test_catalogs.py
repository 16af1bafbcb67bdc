"""The dashboard's gettext catalogs: every string the templates and web code use has a Bokmål
translation with the same placeholders, and the catalogs are what the app loads."""

from __future__ import annotations

import re
from pathlib import Path

from poas.web import catalogs
from poas.web.i18n import Local, gettext, using

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_every_dashboard_string_has_a_bokmal_translation() -> None:
    template = catalogs.extract()
    assert len(template) > 50  # the extraction sees the templates and web/*.py
    missing = catalogs.missing("nb", template)
    assert not missing, (
        f"{len(missing)} string(s) without a Bokmål translation; run `.venv/bin/python scripts/catalogs.py` "
        f"and fill nb/messages.po: {missing[:10]}"
    )


def test_translations_keep_their_placeholders() -> None:
    wrong = []
    for msg in catalogs.read_catalog("nb"):
        if not msg.id or not msg.string:
            continue
        ids = [msg.id] if isinstance(msg.id, str) else list(msg.id)
        strings = [msg.string] if isinstance(msg.string, str) else list(msg.string)
        want = set(PLACEHOLDER.findall(ids[0]))
        wrong += [(ids[0], s) for s in strings if set(PLACEHOLDER.findall(s)) != want]
    assert not wrong, wrong[:5]


def test_the_english_catalog_is_the_source_language() -> None:
    # English is what the templates say: its catalog lists the strings and translates none differently
    for msg in catalogs.read_catalog("en"):
        assert not msg.id or not msg.string or msg.string == msg.id, msg.id


def test_the_app_reads_the_catalogs() -> None:
    with using(Local(lang="nb")):
        assert gettext("Orders") == "Ordrer" and gettext("Log out") == "Logg ut"
        assert gettext("a string no template uses") == "a string no template uses"
    with using(Local(lang="en")):
        assert gettext("Orders") == "Orders"


def test_catalogs_ship_inside_the_package() -> None:
    # the wheel takes every file under src/poas (pyproject: packages = ["src/poas"]); .po is not ignored
    for lang in catalogs.LANGUAGES:
        path = catalogs.po_path(lang)
        assert path.is_file() and path.is_relative_to(catalogs.WEB)


def test_the_listed_report_notes_are_the_ones_build_report_writes() -> None:
    import inspect

    from poas.services import report

    source = " ".join(inspect.getsource(report.build_report).split())
    for note in catalogs.REPORT_NOTES:
        assert note[:60] in source.replace('" "', ""), note


def test_templates_show_no_text_outside_gettext() -> None:
    raw = catalogs.raw_text()  # brand names and commands (catalogs.KEEP_AS_IS) are not counted
    assert not raw, f"wrap these in _() and run scripts/catalogs.py: {raw[:10]}"


def test_raw_text_finds_unwrapped_words(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        '<h1>Hello world</h1><p class="{{ c }}">{{ _("Wrapped") }}</p>'
        '<td class="num {% if bad %}bad{% endif %}" title="{{ t }}">{{ v }}</td>'
        "<p>{% trans %}Also wrapped{% endtrans %} <code>poas serve</code></p><b>Total</b> Meta",
        encoding="utf-8",
    )
    assert catalogs.raw_text(tmp_path) == [("page.html", "Hello world"), ("page.html", "Total")]
