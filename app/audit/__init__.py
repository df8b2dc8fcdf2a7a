"""The audit log: every change to seats and money, and every change a manager makes, as one row.

Rows are written in the same transaction (often the same statement) as the change they
record, and the database refuses UPDATE and DELETE on the table (migration 0006).
"""
