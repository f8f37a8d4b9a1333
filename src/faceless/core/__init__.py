"""Core types, geometry and errors shared by every layer (imports only numpy)."""
