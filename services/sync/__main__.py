"""`python -m services.sync`: run the sync service."""

from services.runtime.server import serve
from services.sync.wiring import SPEC

serve(SPEC)
