"""Model files that ship inside faceless (from PyPI wheels and an npm package; see LICENSE-*)."""
