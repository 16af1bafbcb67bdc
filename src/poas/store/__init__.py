"""poas store layer."""
