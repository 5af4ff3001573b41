"""Client libraries."""
