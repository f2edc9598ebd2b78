"""Optional e-mail of the weekly learning report (off unless `LEARNING_LOOP_SMTP_HOST` and
`LEARNING_LOOP_SMTP_TO` are set): plain SMTP with the Markdown as the body and the plots attached."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

import dagster as dg

from learning_loop.settings import Settings


class MailerResource(dg.ConfigurableResource):
    host: str | None = None
    port: int = 25
    sender: str = "learning-loop@localhost"
    recipients: list[str] = []
    timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> MailerResource:
        return cls(host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_from,
                   recipients=settings.smtp_to)

    @property
    def enabled(self) -> bool:
        return bool(self.host and self.recipients)

    def send(self, subject: str, body: str, attachments: list[Path] = ()) -> list[str]:
        """Send one message to every recipient; returns the recipients (empty when disabled)."""
        if not self.enabled:
            return []
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = subject, self.sender, ", ".join(self.recipients)
        message.set_content(body)
        for path in attachments:
            message.add_attachment(Path(path).read_bytes(), maintype="image", subtype="png", filename=Path(path).name)
        with smtplib.SMTP(str(self.host), self.port, timeout=self.timeout_s) as smtp:
            smtp.send_message(message)
        return list(self.recipients)
