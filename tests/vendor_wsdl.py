"""Where the vendor's WSDL/XSD set is (it is read, never copied into the project).

``HAMGAM_WSDL_DIR`` wins; else ``../shared/reference/payamgostar-wsdl`` beside the checkout; else the
team machine's ``/work/shared``. Tests that need it skip when it is missing, unless
``HAMGAM_REQUIRE_WSDL=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_RELATIVE = Path("shared") / "reference" / "payamgostar-wsdl"
_CANDIDATES = (Path(__file__).resolve().parents[2] / _RELATIVE, Path("/work") / _RELATIVE)


def wsdl_dir() -> Path:
    if os.environ.get("HAMGAM_WSDL_DIR"):
        return Path(os.environ["HAMGAM_WSDL_DIR"])
    return next((path for path in _CANDIDATES if path.is_dir()), _CANDIDATES[0])


def require_wsdl() -> Path:
    path = wsdl_dir()
    if not path.is_dir():
        if os.environ.get("HAMGAM_REQUIRE_WSDL") == "1":
            pytest.fail(f"HAMGAM_REQUIRE_WSDL=1 but the vendor XSDs are not at {path} (set HAMGAM_WSDL_DIR)")
        pytest.skip(f"the vendor XSDs are not at {path} (set HAMGAM_WSDL_DIR)")
    return path
