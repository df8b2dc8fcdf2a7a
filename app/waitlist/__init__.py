"""The waiting list for sold-out shows (README "Waiting list", ARCHITECTURE.md rule 8)."""
