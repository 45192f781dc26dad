"""``python -m hamgam check`` against the demo Tadbir (SQLite) and the real sandbox: the demo world passes, and
each deliberately wrong case fails (exit 1) with a ✗ row naming the fix."""

from __future__ import annotations

import socket

import sqlalchemy as sa
from check_world import WEBAPP_URL

from hamgam.entities import SPECS


def test_the_demo_world_passes(world):
    result = world.run("--json")
    assert result.code == 0, result.rows("fail")
    assert result.document["ok"] is True
    assert [t["company"] for t in result.document["tables"]] == [None, 100, 200]
    assert result.row("crm: REST login (auth/login)", None)["status"] == "ok"
    assert result.row("crm: SOAP call (IProduct/FindProductByCode)", None)["status"] == "ok"
    for company in (100, 200):
        assert result.row("tadbir: connect (" + ("tadbir_default" if company == 100 else "tadbir_200") + ")",
                          company)["status"] == "ok"
        assert result.row("tadbir: fiscal periods", company)["found"].startswith("1403, 1404")
        for table in ("__Customer__", "__SPFactor__", "__SPArticle__", "__PayReceive__", "__Merchandise__"):
            assert result.row(f"tadbir: table {table}", company)["status"] == "ok"
        finds = [r for r in result.rows() if r["check"].startswith("crm: ") and " find (" in r["check"]]
        assert {r["check"].split()[1] for r in finds} == set(SPECS)  # every entity the demo syncs: one find
        assert all(r["status"] == "ok" for r in finds)
        # SQL-Server-only rows say so
        assert result.row("tadbir: permissions", company) == {
            "status": "skip", "mark": "–", "check": "tadbir: permissions", "found": "n/a (sqlite)", "fix": ""}


def test_the_text_report_is_one_table_per_company_and_the_command_exits_0(world):
    result = world.run(subprocess_=True)
    assert result.code == 0, result.out
    lines = result.out.splitlines()
    assert lines[0].startswith("CRM (payamgostar_default) and web app")
    assert any(line.startswith("company 100 ") for line in lines)
    assert any(line.startswith("company 200 ") for line in lines)
    assert "  ✓ tadbir: table __Customer__" in result.out
    assert f"{WEBAPP_URL}/api/sync/customer?token=****" in result.out
    assert f"{WEBAPP_URL}/api/sync/salequote?token=****" in result.out
    assert lines[-1] == "hamgam check: no ✗"


def test_no_secret_is_printed(world):
    world.crm_password("s3cret-crm-password")
    result = world.run()
    assert result.code == 1
    for secret in ("s3cret-crm-password", "hamgam-demo-webhook", "hamgam-demo"):
        assert secret not in result.out


def test_a_missing_column_fails_naming_the_column_and_the_fix(world):
    with world.tadbir(100).begin() as conn:
        conn.exec_driver_sql("ALTER TABLE __Customer__ DROP COLUMN RegisterCode")
    result = world.run("--json")
    assert result.code == 1
    row = result.row("tadbir: column __Customer__.RegisterCode")
    assert row["status"] == "fail" and row["found"].startswith("missing (used by identities")
    assert row["found"] == "missing (used by identities, reverse identities)"
    assert row["fix"] == ("add column RegisterCode (NVARCHAR(32)) to __Customer__ or set companies[0].entities."
                          "identities: false, reverse.identities.enabled: false in the settings file")
    assert all(r["status"] != "fail" for r in result.document["tables"][2]["rows"])  # company 200 is fine


def test_a_required_column_the_reverse_flow_does_not_fill_fails_as_the_writer_would_refuse(world):
    with world.tadbir(100).begin() as conn:  # a site's own NOT NULL column without a default
        conn.exec_driver_sql("ALTER TABLE __DetailAcc__ ADD COLUMN SiteFlag INTEGER NOT NULL DEFAULT 0")
    assert world.run("--json").row("tadbir: reverse flow can insert")["status"] == "ok"
    with world.tadbir(100).begin() as conn:
        conn.exec_driver_sql("CREATE TABLE __Tmp__ AS SELECT * FROM __SPArticle__")
        conn.exec_driver_sql("DROP TABLE __SPArticle__")
        conn.exec_driver_sql("CREATE TABLE __SPArticle__ (Id INTEGER NOT NULL, SPId INTEGER, FPId INTEGER NOT NULL, "
                             "MerchandiseId INTEGER, Amount NUMERIC, StockRoomId INTEGER, UnitId INTEGER, "
                             "UnitPrice BIGINT, Remainder BIGINT, T1 BIGINT, T2 BIGINT, SPADesc NVARCHAR(255), "
                             "NetPrice BIGINT, Approved INTEGER NOT NULL, PRIMARY KEY (Id, FPId))")
    result = world.run("--json")
    assert result.code == 1
    row = result.row("tadbir: reverse flow can insert")
    assert row["status"] == "fail"
    assert "__SPArticle__ requires column Approved (NOT NULL, no default)" in row["found"]
    assert "reverse.quotes.enabled: false" in row["fix"]


def test_a_column_of_a_wrong_type_fails(world):
    with world.tadbir(100).begin() as conn:  # SQLite cannot change a column's type: a new column takes the name
        conn.exec_driver_sql("ALTER TABLE __SPFactor__ RENAME COLUMN SPDate TO SPDateOld")
        conn.exec_driver_sql("ALTER TABLE __SPFactor__ ADD COLUMN SPDate INTEGER")
    result = world.run("--json")
    assert result.code == 1
    row = result.row("tadbir: column __SPFactor__.SPDate")
    assert row["status"] == "fail"
    assert row["found"] == "INTEGER: hamgam expects datetime (DATETIME)"
    assert row["fix"].startswith("make __SPFactor__.SPDate a DATETIME column or set ")


def test_text_where_hamgam_only_reads_a_number_is_a_warning(world):
    with world.tadbir(100).begin() as conn:  # __PayReceive__ is only read: a text Amount is read, not refused
        conn.exec_driver_sql("ALTER TABLE __PayReceive__ RENAME COLUMN Amount TO AmountOld")
        conn.exec_driver_sql("ALTER TABLE __PayReceive__ ADD COLUMN Amount NVARCHAR(20)")
    result = world.run("--json")
    assert result.code == 0
    row = result.row("tadbir: column __PayReceive__.Amount")
    assert row["status"] == "warn" and row["found"].startswith("NVARCHAR(20): text where hamgam expects integer")


def test_a_missing_table_names_the_switch_of_what_reads_it(world):
    with world.tadbir(100).begin() as conn:
        conn.exec_driver_sql("DROP TABLE __PayReceive__")
    result = world.run("--json")
    assert result.code == 1
    row = result.row("tadbir: table __PayReceive__")
    assert row["found"] == "missing (used by receipts, payments)"
    assert "hamgam's assumed table" in row["fix"]
    assert "point companies[0].assumed_tables.pay_receive.table" in row["fix"]
    assert "companies[0].entities.receipts: false, companies[0].entities.payments: false" in row["fix"]


def test_an_entity_switched_off_is_not_checked(world):
    with world.tadbir(100).begin() as conn:
        conn.exec_driver_sql("DROP TABLE __PayReceive__")
    world.settings["companies"][0]["entities"].update({"receipts": False, "payments": False})
    result = world.run("--json")
    assert result.code == 0, result.rows("fail")
    checks = [r["check"] for r in result.document["tables"][1]["rows"]]
    assert "tadbir: table __PayReceive__" not in checks
    assert not any(c.startswith("crm: receipts find") for c in checks)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


def test_an_unreachable_tadbir_fails_naming_its_connection(world):
    world.connection("tadbir_default", conn_type="postgres", host="127.0.0.1", port=_closed_port(),
                     schema="tadbir", login="hamgam", password="pg-password-never-shown")
    result = world.run("--json")
    assert result.code == 1
    row = result.row("tadbir: connect (tadbir_default)")
    assert row["status"] == "fail"
    assert "tadbir_default" in row["fix"] and "host, port" in row["fix"]
    assert "pg-password-never-shown" not in result.out
    checks = [r["check"] for r in result.document["tables"][1]["rows"]]
    assert not any(c.startswith("tadbir: table") for c in checks)  # nothing more is tried on that database
    assert result.document["tables"][2]["ok"] is True


def test_a_missing_sqlite_file_fails_and_is_not_created(world, tmp_path):
    missing = tmp_path / "nowhere" / "tadbir.sqlite"
    world.connection("tadbir_200", conn_type="sqlite", host=str(missing))
    result = world.run("--json")
    assert result.code == 1
    assert result.row("tadbir: connect (tadbir_200)", 200)["found"] == f"no database file {missing}"
    assert not missing.exists()


def test_an_undefined_tadbir_connection_names_it(world):
    world.settings["companies"][1]["tadbir_conn_id"] = "tadbir_nowhere"
    result = world.run("--json")
    assert result.code == 1
    row = result.row("tadbir: connect (tadbir_nowhere)", 200)
    assert "define the Airflow connection 'tadbir_nowhere'" in row["fix"]


def test_a_bad_crm_password_fails_the_rest_login_and_the_soap_call(world):
    world.crm_password("wrong-password")
    result = world.run("--json")
    assert result.code == 1
    rest = result.row("crm: REST login (auth/login)", None)
    soap = result.row("crm: SOAP call (IProduct/FindProductByCode)", None)
    assert rest["status"] == soap["status"] == "fail"
    assert "login refused: wrong user name or password" in rest["found"]
    assert "The user name or password is incorrect." in soap["found"]
    for row in (rest, soap):
        assert row["fix"] == ("set login and password of the Airflow connection 'payamgostar_default' to the CRM "
                              "integration user's")
    skipped = result.row("crm: type codes and finds")
    assert skipped["status"] == "skip"
    assert "wrong-password" not in result.out


def test_an_unreachable_crm_fails_naming_the_host_fix(world):
    world.connection("payamgostar_default", conn_type="http", host=f"http://127.0.0.1:{_closed_port()}",
                     login="hamgam", password="x-secret", extra={"timeout": 2})
    result = world.run("--json")
    assert result.code == 1
    rest = result.row("crm: REST login (auth/login)", None)
    assert rest["status"] == "fail" and "check the host" in rest["fix"]


def test_change_tracking_where_there_is_no_sql_server_fails(world):
    world.settings["companies"][1]["change_capture"] = "change_tracking"
    result = world.run("--json")
    assert result.code == 1
    row = result.row("tadbir: change tracking", 200)
    assert row["found"] == "change_capture is change_tracking, which needs SQL Server (this is sqlite)"
    assert row["fix"] == "set companies[1].change_capture: checksum in the settings file"


def test_without_a_webhook_secret_the_webhooks_fail(world):
    world.connection("hamgam_webhook", conn_type="generic")
    result = world.run("--json")
    assert result.code == 1
    row = result.row("webhooks: shared secret (hamgam_webhook)", None)
    assert row["status"] == "fail" and row["found"] == "the connection has no password"


def test_without_a_base_url_the_webhook_urls_are_a_warning(world):
    del world.env["HAMGAM_WEBAPP_URL"]
    result = world.run("--json")
    assert result.code == 0
    row = result.row("webhooks: customer URL for the CRM", None)
    assert row["status"] == "warn" and row["found"] == "<web app base URL>/api/sync/customer?token=****"
    result = world.run("--json", "--webapp-url", "https://x.example/hamgam/")
    assert result.row("webhooks: salequote URL for the CRM", None)["found"] == \
        "https://x.example/hamgam/api/sync/salequote?token=****"


def test_one_company_can_be_chosen(world):
    result = world.run("--json", "--company", "200")
    assert [t["company"] for t in result.document["tables"]] == [None, 200]
    assert world.run("--company", "999").code == 1


def test_the_check_writes_nothing_into_tadbir(world):
    def counts() -> dict[str, int]:
        with world.tadbir(100).connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {n: conn.exec_driver_sql(f'SELECT COUNT(*) FROM "{n}"').scalar_one() for n in names}

    before = counts()
    assert world.run().code == 0
    assert counts() == before


def test_a_table_served_as_a_view_is_checked_and_a_broken_one_fails(world):
    with world.tadbir(100).begin() as conn:
        conn.exec_driver_sql("ALTER TABLE __Broker__ RENAME TO BrokerData")
        conn.exec_driver_sql("CREATE VIEW __Broker__ AS SELECT * FROM BrokerData")
        conn.exec_driver_sql("ALTER TABLE __Unit__ RENAME TO UnitData")
        conn.exec_driver_sql("CREATE VIEW __Unit__ AS SELECT * FROM UnitData")
        conn.exec_driver_sql("DROP TABLE UnitData")
    result = world.run("--json")
    assert result.code == 1
    assert result.row("tadbir: table __Broker__")["status"] == "ok"
    broken = result.row("tadbir: table __Unit__")
    assert broken["status"] == "fail" and broken["found"].startswith("its columns cannot be read: ")
    assert result.row("tadbir: table __SPFactor__")["status"] == "ok"  # the other tables are still checked


def test_a_missing_voucher_table_names_the_balance_read_and_its_setting(world):
    with world.tadbir(100).begin() as conn:
        conn.exec_driver_sql("DROP TABLE __Article__")
    result = world.run("--json")
    assert result.code == 0  # only the web app reads it: a warning, the DAGs can run
    row = result.row("tadbir: table __Article__")
    assert row["status"] == "warn"
    assert row["found"] == "missing (web app balance read): that endpoint answers 503"
    assert "hamgam's assumed table" in row["fix"]
    assert "point companies[0].assumed_tables.article.table" in row["fix"]
