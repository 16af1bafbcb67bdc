"""CLI: returns commands."""

from poas.cli.app import app as app
