"""Tables of the packages schema."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
