"""The table of the `local` certificate manager: certificates, CA bundles and CRLs."""
import datetime

from sqlalchemy import DateTime, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lbaas.core import models

KINDS = ("certificate", "ca_bundle", "crl")


class StoredCertificate(models.Base):
    """One imported object; a certificate's private key is encrypted (Fernet token)."""

    __tablename__ = "certificate"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=models.new_id)
    name: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    certificate: Mapped[str] = mapped_column(Text)        # leaf PEM, CA bundle or CRL
    intermediates: Mapped[str | None] = mapped_column(Text)
    private_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=models.utcnow)
