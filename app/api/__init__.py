"""HTTP plumbing shared by every /api/v1 blueprint: bodies, auth, errors, OpenAPI."""
