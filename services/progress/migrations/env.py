"""Alembic environment of the progress schema."""

from services.progress.models import Base
from services.runtime.migrations import run_env

run_env(Base.metadata)
