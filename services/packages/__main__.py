"""`python -m services.packages`: run the packages service."""

from services.packages.wiring import SPEC
from services.runtime.server import serve

serve(SPEC)
