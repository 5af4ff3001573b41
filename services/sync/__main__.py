"""`python -m services.sync`: run the sync service."""

from services.sync.service import SPEC
from services.runtime.server import serve

serve(SPEC)
