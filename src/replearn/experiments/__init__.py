"""replearn."""
