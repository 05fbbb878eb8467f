#!/usr/bin/env python3
"""Development SMTP sink: accepts every message and stores it as an ``.eml`` file.

Started by ``deploy/local/stack.sh up`` (listens on 127.0.0.1:2525 by default).

* Every accepted message is written, as the raw RFC 5322 bytes received in DATA
  (after SMTP dot-unstuffing, nothing added or rewritten), to
  ``<maildir>/<UTC timestamp>-<uuid4>.eml``; the timestamp (``20250101T120000.123456Z``)
  makes names sort by arrival. Files are written to a hidden temp file in the same
  directory, fsync'ed and renamed, so a reader never sees a partial ``.eml``.
* Temporary-failure simulation: if ``<maildir>/.fail-next`` exists when a DATA
  command completes, the file is deleted and the client gets
  ``451 4.3.0 simulated temporary failure`` (the message is not stored). One file =
  one failure; create it again to fail again.
* Targeted failure, for tests sharing the sink with running services:
  ``<maildir>/.fail-next-for-<address>`` fails only the next message with that recipient
  (compared ignoring case), and is then deleted.

maildir: ``--maildir``, else ``$HLM360_MAIL_DIR``, else ``<repo>/.local/mail``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiosmtpd
from aiosmtpd.smtp import SMTP, Envelope, Session

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MAILDIR = REPO_ROOT / ".local" / "mail"
FAIL_NEXT = ".fail-next"
FAIL_NEXT_FOR = ".fail-next-for-"
FAIL_REPLY = "451 4.3.0 simulated temporary failure"

log = logging.getLogger("mailsink")


class MailSinkHandler:
    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir

    def _consume_fail_flag(self, recipients: list[str]) -> bool:
        """True (and the flag removed) if this message is to fail: a flag for one of its
        recipients, or the flag for whatever comes next."""
        wanted = {f"{FAIL_NEXT_FOR}{address.casefold()}" for address in recipients}
        targeted = [path for path in self.maildir.glob(f"{FAIL_NEXT_FOR}*") if path.name.casefold() in wanted]
        for flag in [*targeted, self.maildir / FAIL_NEXT]:
            try:
                flag.unlink()
            except FileNotFoundError:
                continue
            return True
        return False

    def _store(self, raw: bytes) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        final = self.maildir / f"{stamp}-{uuid.uuid4()}.eml"
        tmp = self.maildir / f".tmp-{uuid.uuid4()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return final

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._consume_fail_flag(list(envelope.rcpt_tos)):
            log.info("simulated 451 for a mail to %d recipient(s)", len(envelope.rcpt_tos))
            return FAIL_REPLY
        raw = envelope.original_content
        if raw is None:  # pragma: no cover - only with decode_data=True
            raw = envelope.content if isinstance(envelope.content, bytes) else (envelope.content or "").encode()
        try:
            path = await asyncio.get_running_loop().run_in_executor(None, self._store, raw)
        except OSError as exc:
            log.exception("could not store message")
            return f"451 4.3.0 could not store message: {exc.strerror or exc}"
        log.info("stored %s recipients=%d bytes=%d", path.name, len(envelope.rcpt_tos), len(raw))
        return "250 2.0.0 OK stored " + path.name


async def serve(host: str, port: int, maildir: Path) -> None:
    maildir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, at start-up
    handler = MailSinkHandler(maildir)
    loop = asyncio.get_running_loop()
    # Explicit hostname: aiosmtpd would otherwise call socket.getfqdn(), which can hang on
    # machines without working DNS.
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="mailsink.local", decode_data=False, enable_SMTPUTF8=True),
        host=host,
        port=port,
        reuse_address=True,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("mailsink (aiosmtpd %s) listening on %s:%d, maildir %s", aiosmtpd.__version__, host, port, maildir)
    async with server:
        await stop.wait()
    log.info("mailsink stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("MAILSINK_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("MAILSINK_PORT", "2525")))
    parser.add_argument(
        "--maildir",
        type=Path,
        default=Path(os.environ.get("HLM360_MAIL_DIR") or DEFAULT_MAILDIR),
        help="directory receiving the .eml files (default: $HLM360_MAIL_DIR or <repo>/.local/mail)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    asyncio.run(serve(args.host, args.port, args.maildir.resolve()))


if __name__ == "__main__":
    main()
