"""Operating a site: backups and restores, and purging rows that are no longer needed."""
