"""Sending email: an SMTP relay in production, an outbox folder on the embedded default."""

from musicconnect.adapters.email.outbox import OutboxEmailSender, read_outbox
from musicconnect.adapters.email.smtp import SmtpEmailSender, SmtpSecurity

__all__ = ["OutboxEmailSender", "SmtpEmailSender", "SmtpSecurity", "read_outbox"]
