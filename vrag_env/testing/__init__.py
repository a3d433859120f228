"""Test and smoke-run fixtures that ship with the package (nothing here is imported by the env)."""
