"""`python -m services.sync`: run the sync service."""

from services.runtime.server import serve
from services.sync.service import SPEC

serve(SPEC)
