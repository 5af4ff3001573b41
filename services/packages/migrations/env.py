"""Alembic environment of the packages schema."""

from services.packages.models import Base
from services.runtime.migrations import run_env

run_env(Base.metadata)
