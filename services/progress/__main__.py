"""`python -m services.progress`: run the progress service."""

from services.progress.wiring import SPEC
from services.runtime.server import serve

serve(SPEC)
