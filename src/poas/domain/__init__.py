"""poas domain layer."""
