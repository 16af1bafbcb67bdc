"""Platform connectors (adapters): Shopify Admin API and WooCommerce REST clients, and their sandboxes."""
