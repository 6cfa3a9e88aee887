"""The storage layer under every stage: atomic writes, the one-writer lock, checksums and
the manifest of what a data root holds."""
