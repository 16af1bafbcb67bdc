"""Tables: foundation."""

from poas.store.tables import metadata as metadata
