"""Model files that ship inside faceless (derived from models in PyPI wheels; see LICENSE-*)."""
