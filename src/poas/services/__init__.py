"""poas services layer."""
