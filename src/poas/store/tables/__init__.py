"""All tables, one module per concept, sharing one MetaData (the migrations' target)."""

from sqlalchemy import MetaData

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Importing the modules registers their tables on `metadata`.
from poas.store.tables import alerts as alerts  # noqa: E402
from poas.store.tables import catalog as catalog  # noqa: E402
from poas.store.tables import customer_models as customer_models  # noqa: E402
from poas.store.tables import customers as customers  # noqa: E402
from poas.store.tables import delivery as delivery  # noqa: E402
from poas.store.tables import foundation as foundation  # noqa: E402
from poas.store.tables import intake as intake  # noqa: E402
from poas.store.tables import login as login  # noqa: E402
from poas.store.tables import returns as returns  # noqa: E402
from poas.store.tables import settings_overrides as settings_overrides  # noqa: E402
from poas.store.tables import spend as spend  # noqa: E402
from poas.store.tables import syncs as syncs  # noqa: E402
