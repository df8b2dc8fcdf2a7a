"""Background work on RQ: hold expiry, webhook processing, refunds, notifications, reconciliation.

Built on ``app``: the app puts jobs on its queues by dotted path (``app/background``) and never
imports this package; ``flask worker`` and ``flask scheduler`` reach the ``flask`` command through wsgi.py."""
