"""Settings: the shipped file is valid, and every bad value fails with the file and field named."""

import pytest

from hamgam.config import DEFAULT_CONFIG, ConfigError, load_config, parse_config

MINIMAL = "companies: [{code: 100}]"


def test_the_shipped_settings_load(monkeypatch):
    monkeypatch.setenv("HAMGAM_CONFIG", str(DEFAULT_CONFIG))
    config = load_config()
    assert config.companies_for("identities") == [100, 200]
    assert config.company(200).tadbir_conn_id == "tadbir_200"


def test_defaults_fill_what_a_minimal_file_leaves_out():
    config = parse_config(MINIMAL)
    assert config.company(100).tadbir_conn_id == "tadbir_default"
    assert config.identities.customer_number_template == "{companyCode}-{*(AN)}"
    assert config.sync.crm_conn_id == "payamgostar_default" and config.sync.state_conn_id == "hamgam_state"


@pytest.mark.parametrize(("text", "message"), [
    ("companies: [{code: 99}]", "companies.0.code"),
    ("companies: [{code: 100}, {code: 100}]", "company codes must be unique"),
    ("companies: [{code: 100, default: true}, {code: 200, default: true}]", "at most one company"),
    ("companies: [{code: 100, entities: {invoices2: true}}]", "unknown entities"),
    ("companies: []", "at least one company"),
    ("companies: [{code: 100}]\nsync: {chunk_size: 0}", "sync.chunk_size"),
    ("companies: [{code: 100}]\nidentities: {kind_policy: people}", "identities.kind_policy"),
    ("companies: [{code: 100, colour: blue}]", "companies.0.colour"),
    ("companies: [{code: 100}", "not valid YAML"),
    ("companies: [{code: 100}]\ninvoices: {type_code: SI}", "unknown settings \\['invoices'\\]"),
    ("companies: [{code: 100}]\nsales_invoices: {colour: blue}", "sales_invoices.colour"),
    ("companies: [{code: 100}]\npurchase_returns: {number_template: '{companyCode}-x'}",
     "purchase_returns.number_template"),
    ("companies: [{code: 100}]\nproducts: [a, b]", "products: a mapping of settings is expected"),
    ("- a\n- b", "a mapping of settings is expected, not list"),
])
def test_bad_settings_name_the_field(text, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config(text, "site.yaml")
    assert str(caught.value).startswith("site.yaml: ")


def test_a_missing_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HAMGAM_CONFIG", str(tmp_path / "nowhere.yaml"))
    with pytest.raises(ConfigError, match="nowhere.yaml not found"):
        load_config()


def test_switches_turn_an_entity_off_per_company():
    config = parse_config("companies: [{code: 100}, {code: 200, entities: {identities: false}},"
                          " {code: 300, enabled: false}]")
    assert config.companies_for("identities") == [100]
    with pytest.raises(ConfigError, match="company 400 is not configured"):
        config.company(400)


def test_an_entity_resting_on_an_unobserved_assumption_is_off_until_switched_on(monkeypatch):
    import dataclasses

    from hamgam import entities

    assumed = dataclasses.replace(entities.SPECS["sales_returns"], assumption="a SOAP reading nobody has seen")
    monkeypatch.setitem(entities.SPECS, "sales_returns", assumed)
    config = parse_config("companies: [{code: 100}, {code: 200, entities: {sales_returns: true}}]")
    assert not config.syncs(config.company(100), "sales_returns") and config.syncs(config.company(100), "sales_invoices")
    assert config.syncs(config.company(200), "sales_returns")
    assert config.companies_for("sales_returns") == [200]


def test_an_entity_section_overrides_its_specs_defaults_field_by_field():
    config = parse_config("companies: [{code: 100}]\npurchase_invoices: {type_code: PI_7}")
    from hamgam.entities.documents import settings

    assert settings(config, "purchase_invoices").type_code == "PI_7"
    assert settings(config, "purchase_invoices").number_template == "{companyCode}-{____(SHYY)}/{*(AN)}"
    assert settings(config, "sales_invoices").type_code == "sales_invoice"  # a section left out: the defaults
