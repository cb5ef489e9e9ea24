"""Data intake: file and API imports with per-row validation, duplicate detection and merges."""
