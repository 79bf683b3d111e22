"""Errors of provisioning: identities, keys, and (later) certificates and enrolment."""


class ProvisioningError(Exception):
    """Base of every error raised by `provisioning/`; `problems` lists each thing wrong."""

    code = "provisioning_error"

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


class InvalidIdentity(ProvisioningError):
    code = "invalid_identity"


class DataDirExists(ProvisioningError):
    code = "data_dir_exists"


class IdentityMissing(ProvisioningError):
    code = "identity_missing"


class CertificateRefused(ProvisioningError):
    code = "certificate_refused"


class EnrolmentRefused(ProvisioningError):
    code = "enrolment_refused"


class BadCode(ProvisioningError):
    """An enrolment code that is mistyped, unknown, used or expired."""

    code = "bad_enrolment_code"
