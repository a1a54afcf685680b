"""CI services: the regression gate, the GitHub Actions client, log triage, workflow set-up."""
