"""Alembic environment of the sync schema."""

from services.sync.models import Base
from services.runtime.migrations import run_env

run_env(Base.metadata)
