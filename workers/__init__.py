"""Background work on RQ: hold expiry, webhook processing, refunds, notifications, reconciliation."""
