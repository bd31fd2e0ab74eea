"""Errors of the storage layer."""

from __future__ import annotations


class StorageError(Exception):
    """Base of storage errors."""


class ItemNotFound(StorageError):
    def __init__(self, what: str) -> None:
        super().__init__(f"no item {what}")


class VersionNotFound(StorageError):
    def __init__(self, queue: str, version: str) -> None:
        super().__init__(f"queue {queue!r} has no model version {version!r}")
