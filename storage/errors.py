"""Errors of the storage layer."""


class StorageError(Exception):
    """Base of every error raised by `storage/`."""

    code = "storage_error"


class UnsupportedDatabase(StorageError):
    code = "unsupported_database"


class SchemaTooNew(StorageError):
    code = "schema_too_new"


class PendingMigrations(StorageError):
    code = "pending_migrations"


class BlobCorrupt(StorageError):
    code = "blob_corrupt"


class BlobMissing(StorageError):
    code = "blob_missing"
