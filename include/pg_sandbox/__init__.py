"""A local stand-in for the Payamgostar CRM.

- REST v2: login; person/organization create/get/update/delete/find; identity/search;
  invoice/sales and invoice/purchase create/get/update/delete/find; quote/sales/get.
- SOAP 1.1 (WCF basicHttpBinding), strict to the vendor XSDs: IProduct, IInvoice and
  IPayment at /Services/API/<Service>.svc (the served operations: soap_contract.OPERATIONS),
  including IInvoice SearchQuote(typeKey, query) for sweeps and SearchPurchaseInvoice,
  SearchReturnPurchaseInvoice, SearchReturnSaleInvoice (soap_search.py); SaveReturnInvoice
  saves purchase returns (CrmObjectTypeIndex 16) and sales returns (17).
- Webhooks as the CRM sends them (webhooks.py): GET <url>?event=&id=&type=&subtype= after a
  committed write of a person, organization or quote, off the request thread, retried.
- /_sandbox/: health, stats, settings (faults, product units, receipt/payment and purchase
  invoice/return type codes, webhooks), records (JSON, with a `kind`), reset, webhooks (log,
  flush, clear), an HTML page.
- Faults (settings.py; rates between 0 and 1, changeable at runtime, seeded by `seed`, counted
  in the stats' `faults`): `latency_ms`; `slow_rate` + `slow_ms`; `rate_limit_rate` (429 with
  `retry_after_seconds`); `error_rate` (500, nothing done); `error_after_commit_rate` (the write
  is kept, then 500); bad 200 answers (calls.py): `html_page_rate` (an HTML page, nothing done),
  `html_after_commit_rate` (the write is kept, then the HTML page), `truncated_json_rate` and
  `truncated_soap_rate` (the work is done, its REST JSON / SOAP envelope cut short),
  `soap_fault_after_commit_rate` (a SOAP write is kept, then an `s:Client` fault);
  `webhook_drop_rate` (webhooks never sent).

- `pg_sandbox.app.create_app(settings)`: the FastAPI application.
- `python -m pg_sandbox --port 8765 --db data/sandbox.sqlite`: run it (entry point `payamgostar-sandbox`).
- `pg_sandbox.testing.run_sandbox(db_path, **settings)`: run it as a subprocess in tests.

The wire contract is /work/shared/reference/payamgostar-api.md (§2.1, §3, §4); the SOAP
part is encoded in soap_contract.py and checked against the vendor XSDs by the tests.
"""
