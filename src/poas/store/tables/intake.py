"""Tables: intake."""

from poas.store.tables import metadata as metadata
