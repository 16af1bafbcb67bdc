"""Google adapters: the Data Manager API sender (conversions and restatements) and its local sandbox;
the Google Ads API spend search (`ads_search`, `ads_errors`) and its local sandbox (`sandbox_ads`)."""
