"""PAdES signatures with pyHanko: sign a document with a seal's key, and read one back.

Bytes in, bytes or facts out. pyHanko and its certificate validator cost seconds and tens of
megabytes to import, so only this module imports them, and only sealing and verifying import it.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

FIELD = "OneTripSeal"


@dataclass(frozen=True)
class SignedPdf:
    """What a PDF says about its last signature, before we judge it."""

    subject: str  # the document's /Subject: a sealed document's QR text
    signer: x509.Certificate | None  # None: the PDF carries no signature
    intact: bool  # the signed bytes hash to what the signature signs, and the signature verifies
    whole_file: bool  # nothing was appended after the signature


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def sign(
    pdf: bytes,
    key: ec.EllipticCurvePrivateKey,
    cert: x509.Certificate,
    chain: list[x509.Certificate],
    *,
    name: str,
    location: str,
) -> bytes:
    """An incremental update adding a PAdES B-B signature over the whole document, chain embedded."""
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    signer = signers.SimpleSigner(
        signing_cert=_asn1(cert),
        signing_key=asn1_keys.PrivateKeyInfo.load(der),
        cert_registry=SimpleCertificateStore.from_certs([_asn1(c) for c in chain]),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        name=name,
        location=location,
        reason="电子印章",
    )
    out = io.BytesIO()
    signers.PdfSigner(meta, signer).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out)
    return out.getvalue()


def rehearse() -> bytes:
    """Sign a one-page document with a throwaway key and certificate, at start: pyHanko's and asn1crypto's
    first signature builds what later ones reuse, and a person's first seal should not wait for it."""
    from reportlab.pdfgen.canvas import Canvas

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rehearsal")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(minutes=10))
        .sign(key, hashes.SHA256())
    )
    page = io.BytesIO()
    canvas = Canvas(page)
    canvas.drawString(72, 720, "rehearsal")
    canvas.save()
    return sign(page.getvalue(), key, cert, [cert], name="rehearsal", location="rehearsal")


def read(pdf: bytes, roots: list[x509.Certificate], others: list[x509.Certificate]) -> SignedPdf | None:
    """The last signature's facts; None if the bytes are not a PDF pyHanko can read. Whether the signer
    is trusted, and when, the caller judges with our own path rules (division containment included)."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        info = reader.trailer_view.get("/Info")
        subject = str(info.get_object().get("/Subject", "")) if info is not None else ""
        signatures = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError):
        return None
    if not signatures:
        return SignedPdf(subject, None, False, False)
    embedded = signatures[-1]
    context = ValidationContext(
        trust_roots=[_asn1(c) for c in roots],
        other_certs=[_asn1(c) for c in others],
        allow_fetching=False,
        revocation_mode="soft-fail",  # revocation is ours: seal.revoked events, judged by the caller
    )
    try:
        status = validate_pdf_signature(embedded, context)
    except (SignatureValidationError, SigningError, PdfError, ValueError):
        return SignedPdf(subject, None, False, False)
    signer = x509.load_der_x509_certificate(embedded.signer_cert.dump())
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    return SignedPdf(subject, signer, bool(status.intact and status.valid), whole)
