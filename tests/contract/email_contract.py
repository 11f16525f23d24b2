"""What every EmailSender adapter must do: deliver the message as given, text intact."""

from __future__ import annotations

from musicconnect.ports.services import EmailMessage, EmailSender


class EmailSenderContract:
    def make_sender(self) -> EmailSender:
        raise NotImplementedError

    def delivered(self, to: str) -> list[EmailMessage]:
        """What arrived for ``to`` through the adapter's real channel, oldest first."""
        raise NotImplementedError

    def test_a_message_arrives_with_its_recipient_subject_and_body(self) -> None:
        """Recipient, subject and body read back as sent, non-ASCII and line breaks included."""
        message = EmailMessage(
            to="ada@example.com",
            subject="Confirm your email: Zoë’s account",  # noqa: RUF001 - typographic apostrophe on purpose
            body="Hello Zoë,\n\nopen https://app.example/verify?token=abc-123_XYZ\n",
        )

        self.make_sender().send(message)

        [arrived] = self.delivered("ada@example.com")
        assert arrived.to == message.to
        assert arrived.subject == message.subject
        assert arrived.body.replace("\r\n", "\n").strip() == message.body.strip()

    def test_messages_arrive_in_order_to_their_own_recipients(self) -> None:
        """Two messages to two people: each gets only theirs."""
        sender = self.make_sender()
        sender.send(EmailMessage(to="a@example.com", subject="first", body="1"))
        sender.send(EmailMessage(to="b@example.com", subject="second", body="2"))
        sender.send(EmailMessage(to="a@example.com", subject="third", body="3"))

        assert [m.subject for m in self.delivered("a@example.com")] == ["first", "third"]
        assert [m.subject for m in self.delivered("b@example.com")] == ["second"]
