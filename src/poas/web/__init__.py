"""poas web layer."""
