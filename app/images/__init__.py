"""Event images: a poster read and checked (``processing``), its renditions kept behind a small
storage interface (``storage``: local disk or any S3-compatible store) and served (``routes``).
README, "Event images"."""
