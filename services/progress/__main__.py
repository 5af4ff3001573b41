"""`python -m services.progress`: run the progress service."""

from services.progress.service import SPEC
from services.runtime.server import serve

serve(SPEC)
