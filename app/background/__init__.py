"""The app's side of background work: the named RQ queues, the one way jobs are put on them
(``queues.enqueue``) and what a committed transaction asks for (``dispatch.Followups``).

Jobs are named by their dotted path (``workers.jobs.send_notification``): the ``workers`` package
runs them and depends on ``app``; ``app`` never imports ``workers`` (.importlinter), and
tests/unit/test_import_rules.py checks that every job path named here exists there.
"""
