"""Alembic environment of the sync schema."""

from services.runtime.migrations import run_env
from services.sync.models import Base

run_env(Base.metadata)
