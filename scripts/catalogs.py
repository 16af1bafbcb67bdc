#!/usr/bin/env python3
"""Extract the dashboard's strings into web/locale/{nb,en}/LC_MESSAGES/messages.po; list what nb lacks.

Run after adding `_()` / `{% trans %}` strings: `.venv/bin/python scripts/catalogs.py`
(`--check`: change nothing, exit 1 if Bokmål misses a translation; `--raw`: list template text
that is not wrapped in `_()` yet). Translate the new empty
`msgstr ""` entries of nb/messages.po (English is the source language; its catalog stays empty).
"""

from __future__ import annotations

import sys

from poas.web import catalogs


def main(argv: list[str]) -> int:
    if "--raw" in argv:
        raw = catalogs.raw_text()
        for template, text in raw:
            print(f"{template}: {text!r}")
        return 1 if raw else 0
    if "--check" in argv:
        missing = catalogs.missing("nb")
    else:
        missing = catalogs.update()["nb"]
        print(f"updated {', '.join(str(catalogs.po_path(lang)) for lang in catalogs.LANGUAGES)}")
    for msgid in missing:
        print(f"nb: untranslated: {msgid!r}")
    print(f"{len(missing)} untranslated string(s) in nb")
    return 1 if missing and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
