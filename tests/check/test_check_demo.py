"""`make check` (``hamgam_dev.check_demo``): the demo world prepared as `make demo` prepares it, the sandbox
started and stopped, the check's exit code passed on."""

from __future__ import annotations

import json

from hamgam_dev.check_demo import main


def test_make_check_runs_the_check_on_the_demo_world_and_passes_its_exit_code(tmp_path, capfd):
    assert main(["--data", str(tmp_path), "--", "--json"]) == 0
    out = capfd.readouterr().out
    document = json.loads(out[out.index("{"):])
    assert document["ok"] is True
    assert [t["company"] for t in document["tables"]] == [None, 100, 200]
    assert (tmp_path / "demo" / "tadbir_100.sqlite").is_file()
    assert main(["--data", str(tmp_path), "--", "--company", "999"]) == 1
