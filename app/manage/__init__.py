"""Venue managers: venues and layouts, events and shows, the box office, live sales, cancellation."""
