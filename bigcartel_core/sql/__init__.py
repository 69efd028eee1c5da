"""SQL plumbing shared by target-fulfillment's ledger and the webhook store."""
