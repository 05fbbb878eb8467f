"""Builds the NHS.UK design system assets into shared/web/static (served at /assets, no CDN).

Run by `make assets` after `npm ci`: copies nhsuk-frontend's CSS, JS and images, and drops the
@font-face rules that point at assets.nhs.uk so pages make no third-party requests (the NHS.UK
font stack falls back to Arial).
"""

import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DIST = HERE / "node_modules" / "nhsuk-frontend" / "dist" / "nhsuk"
OUT = HERE.parents[1] / "shared" / "web" / "static"
FONT_FACE = re.compile(r"@font-face\{[^}]*assets\.nhs\.uk[^}]*\}")


def main() -> int:
    if not DIST.exists():
        sys.stderr.write(f"{DIST} missing: run `npm ci --prefix deploy/frontend` first\n")
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    css = (DIST / "nhsuk-frontend.min.css").read_text(encoding="utf-8")
    css = FONT_FACE.sub("", css)
    css = re.sub(r"/\*# sourceMappingURL=[^*]*\*/", "", css)
    if "assets.nhs.uk" in css:
        sys.stderr.write("nhsuk-frontend CSS still references assets.nhs.uk\n")
        return 1
    (OUT / "nhsuk-frontend.min.css").write_text(css, encoding="utf-8")
    js = (DIST / "nhsuk-frontend.min.js").read_text(encoding="utf-8")
    (OUT / "nhsuk-frontend.min.js").write_text(re.sub(r"//# sourceMappingURL=\S+", "", js), encoding="utf-8")
    shutil.copytree(DIST / "assets" / "images", OUT / "images", dirs_exist_ok=True)
    (OUT / "init.js").write_text(
        "import { initAll } from './nhsuk-frontend.min.js';\n"
        "document.body.classList.add('js-enabled', 'nhsuk-frontend-supported');\n"
        "initAll();\n",
        encoding="utf-8",
    )
    sys.stdout.write(f"NHS.UK frontend assets built into {OUT}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
