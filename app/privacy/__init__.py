"""One learner's data, exported or deleted on their request (or a site administrator's)."""
