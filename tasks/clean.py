"""The cleaner's former home, kept so that `from tasks.clean import ...` goes on working: the cleaner
now lives in `tasks/cleaning/` (one module per family of boilerplate; `tasks/cleaning/rulebook.py`
gives the order the rules run in)."""

from tasks.cleaning import *  # noqa: F403
from tasks.cleaning import __all__  # noqa: F401
