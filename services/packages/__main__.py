"""`python -m services.packages`: run the packages service."""

from services.packages.service import SPEC
from services.runtime.server import serve

serve(SPEC)
