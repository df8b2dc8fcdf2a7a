"""Waiting rooms for queue-protected sales: the tables (``models``), the room itself in Redis and
Postgres (``room``) and the managers' controls (``control``).

The gate process (``queue_gate``) serves fans from it, the manager dashboard controls it and the
scheduler's admission tick (``workers.jobs.gate_tick``) moves it on; it imports none of them.
"""
