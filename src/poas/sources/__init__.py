"""poas sources layer."""
