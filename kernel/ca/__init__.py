"""The conversation with the CA: the ACME session and its signed transport, accounts, orders and issuance, chains, revocation and renewal information (ARI)."""
