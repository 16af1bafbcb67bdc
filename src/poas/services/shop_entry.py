"""Set keys of one shop's `[[shops]]` entry in poas.toml, or append the entry: a textual edit that
keeps the file's other lines and comments, checked by the real settings loader before it replaces
the file. Secrets never go into the file: they are written to files of their own (0600) under
`$POAS_HOME/secrets/<shop>/` and the entry names them with `<field>_file`."""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from poas.services.config_file import InitError, validate_config_text

Value = str | bool | list[str]
_HEADER = re.compile(r"^\s*\[")
_SHOPS = re.compile(r"^\s*\[\[\s*shops\s*\]\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def _render(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)  # TOML basic strings and arrays of them


def _shop_index(text: str, shop_id: str) -> int | None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InitError(f"the configuration is not valid TOML ({exc}): fix it first") from None
    for n, shop in enumerate(data.get("shops") or []):
        if isinstance(shop, dict) and shop.get("id") == shop_id:
            return n
    return None


def with_shop_keys(text: str, shop_id: str, values: Mapping[str, Value]) -> tuple[str, bool]:
    """`text` with `values` set in the shop's entry (the same key, and a secret's plain/`_file` twin,
    replaced); the entry is appended when missing. Returns (new text, whether the entry was added)."""
    drop = set(values) | {k.removesuffix("_file") for k in values if k.endswith("_file")}
    new_lines = [f"{k} = {_render(v)}" for k, v in values.items()]
    index = _shop_index(text, shop_id)
    lines = text.splitlines()
    if index is None:
        block = ["", "[[shops]]", f"id = {_render(shop_id)}", *new_lines]
        return "\n".join([*lines, *block]) + "\n", True
    headers = [n for n, line in enumerate(lines) if _SHOPS.match(line)]
    start = headers[index]
    end = next((n for n in range(start + 1, len(lines)) if _HEADER.match(lines[n])), len(lines))
    kept: list[str] = []
    skipping = False
    for line in lines[start + 1 : end]:
        if skipping:
            skipping = "]" not in line
            continue
        m = _KEY.match(line)
        if m and m.group(1) in drop:
            rest = line.split("=", 1)[1]
            skipping = rest.strip().startswith("[") and "]" not in rest
            continue
        kept.append(line)
    out = [*lines[: start + 1], *new_lines, *kept, *lines[end:]]
    return "\n".join(out) + "\n", False


def set_shop_keys(path: Path, shop_id: str, values: Mapping[str, Value]) -> bool:
    """Edit the configuration file (created when missing); InitError when the result does not load."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    new_text, added = with_shop_keys(text, shop_id, values)
    path.parent.mkdir(parents=True, exist_ok=True)
    validate_config_text(new_text, path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(new_text, encoding="utf-8")
    os.replace(tmp, path)
    return added


def write_secret(folder: Path, name: str, value: str) -> Path:
    """A secret in a file only its owner can read; returns the path."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)
    return path
