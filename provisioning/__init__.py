"""Trust: installation identities and keys; later the certificate authority, enrolment and revocation."""
