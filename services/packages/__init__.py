"""The packages service."""
