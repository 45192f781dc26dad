"""SandboxSettings: defaults, PG_SANDBOX_* variables, validation, command-line flags."""

import pytest
from soap_helpers import Soap, product, unique_code

from pg_sandbox.__main__ import parse_args, settings_from_args
from pg_sandbox.settings import SandboxSettings
from pg_sandbox.testing import run_sandbox


def test_defaults():
    settings = SandboxSettings()
    assert (settings.username, settings.password, settings.token_ttl_seconds) == ("hamgam", "hamgam-demo", 7200)
    assert settings.error_rate == settings.latency_ms == 0 and settings.seed is None


def test_from_env_reads_prefixed_variables():
    env = {"PG_SANDBOX_DB_PATH": "/tmp/x.sqlite", "PG_SANDBOX_ERROR_RATE": "0.25", "PG_SANDBOX_LATENCY_MS": "40",
           "PG_SANDBOX_SEED": "7", "UNRELATED": "1"}
    settings = SandboxSettings.from_env(env)
    assert (settings.db_path, settings.error_rate, settings.latency_ms, settings.seed) == ("/tmp/x.sqlite", 0.25, 40, 7)


@pytest.mark.parametrize("bad", [{"error_rate": 1.5}, {"slow_rate": -0.1}, {"latency_ms": -5}])
def test_out_of_range_values_are_refused(bad):
    with pytest.raises(ValueError):
        SandboxSettings(**bad)


def test_flags_override_environment(monkeypatch):
    monkeypatch.setenv("PG_SANDBOX_ERROR_RATE", "0.5")
    monkeypatch.setenv("PG_SANDBOX_SLOW_MS", "300")
    args = parse_args(["--port", "9000", "--db", "d.sqlite", "--error-rate", "0.1", "--seed", "3"])
    settings = settings_from_args(args)
    assert args.port == 9000
    assert (settings.db_path, settings.error_rate, settings.slow_ms, settings.seed) == ("d.sqlite", 0.1, 300, 3)


def test_crm_configuration_defaults():
    settings = SandboxSettings()
    assert settings.product_units == ("عدد", "کیلوگرم", "متر", "بسته", "ساعت")
    assert (settings.receipt_type_code, settings.payment_type_code) == ("receipt", "payment")
    assert (settings.purchase_invoice_type_code, settings.purchase_return_type_code) == (
        "purchase_invoice", "purchase_return")
    assert settings.purchase_kind_of("Purchase_Return") == "purchase_return" and settings.purchase_kind_of("x") is None


def test_product_units_come_comma_separated_from_env_and_flags(monkeypatch):
    assert SandboxSettings.from_env({"PG_SANDBOX_PRODUCT_UNITS": "عدد, لیتر,"}).product_units == ("عدد", "لیتر")
    args = parse_args(["--product-units", "a,b", "--receipt-type-code", "Receipt_5", "--purchase-return-type-code",
                       "RP_16"])
    settings = settings_from_args(args)
    assert settings.product_units == ("a", "b") and settings.receipt_type_code == "Receipt_5"
    assert settings.purchase_return_type_code == "RP_16"


@pytest.mark.parametrize("bad", [{"receipt_type_code": "X", "payment_type_code": "x"}, {"payment_type_code": " "},
                                 {"product_units": ("عدد", "")}, {"purchase_return_type_code": ""},
                                 {"purchase_invoice_type_code": "PI", "purchase_return_type_code": "pi"}])
def test_bad_crm_configuration_is_refused(bad):
    with pytest.raises(ValueError):
        SandboxSettings(**bad)


def test_crm_configuration_changes_at_runtime_with_json_types():
    settings = SandboxSettings().with_changes({"product_units": ["لیتر"], "payment_type_code": "Payment_7"})
    assert settings.product_units == ("لیتر",) and settings.payment_type_code == "Payment_7"
    for bad in ({"product_units": "لیتر"}, {"product_units": [1]}, {"receipt_type_code": 5}):
        with pytest.raises(ValueError):
            SandboxSettings().with_changes(bad)


def test_run_sandbox_passes_crm_configuration(tmp_path):
    with run_sandbox(tmp_path / "units.sqlite", product_units=["لیتر", "گالن"], payment_type_code="P7") as pg:
        assert pg.settings()["product_units"] == ["لیتر", "گالن"] and pg.settings()["payment_type_code"] == "P7"
        saved = Soap(pg.base_url).call("IProduct", "SaveProduct", product(unique_code(), unit="گالن"))
    assert saved["Success"] == "true"
