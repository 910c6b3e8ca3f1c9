"""The flows verbs share: obtaining, deploying, CSR mode, account setup, and the lifecycle that fires events and shell hooks."""
