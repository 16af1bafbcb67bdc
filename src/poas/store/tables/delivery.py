"""Tables: delivery."""

from poas.store.tables import metadata as metadata
