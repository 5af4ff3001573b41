"""Tables of the sync schema."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
