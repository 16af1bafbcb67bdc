"""CLI: meta commands."""

from poas.cli.app import app as app
