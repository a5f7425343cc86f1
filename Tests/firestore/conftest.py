"""The Firestore tests also use the end-to-end helpers (Tests/e2e/stack.py)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
