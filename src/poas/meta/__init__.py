"""poas meta layer."""
