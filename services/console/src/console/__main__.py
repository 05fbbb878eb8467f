"""`python -m console`: serve the operator console (uvicorn), on CONSOLE_HTTP_HOST:CONSOLE_HTTP_PORT."""

import sys

import uvicorn

from console.config import Settings


def main(argv: list[str]) -> int:
    if argv[1:] not in ([], ["serve"]):
        sys.stderr.write("usage: python -m console [serve]\n")
        return 0 if argv[1:] in (["-h"], ["--help"]) else 2
    settings = Settings()  # type: ignore[call-arg]
    uvicorn.run("console.main:create_app", factory=True, host=settings.http_host, port=settings.http_port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
