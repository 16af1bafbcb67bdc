"""Tables: spend."""

from poas.store.tables import metadata as metadata
