"""The human-readable page at GET /_sandbox/: the stored identities, then the products, quotes,
invoices, returns, receipts and payments, as right-to-left tables."""

from html import escape
from typing import Any

from pg_sandbox.identities import display_name

_KIND = {"person": "حقیقی (person)", "organization": "حقوقی (organization)", "product": "کالا (product)",
         "quote": "پیش‌فاکتور (quote)", "sales_invoice": "فاکتور فروش (sales invoice)",
         "sales_return": "برگشت از فروش (sales return)", "purchase_invoice": "فاکتور خرید (purchase invoice)",
         "purchase_return": "برگشت از خرید (purchase return)", "receipt": "دریافت (receipt)",
         "payment": "پرداخت (payment)"}
_IDENTITY_KINDS = ("person", "organization")

_STYLE = """
body { font-family: Vazirmatn, Tahoma, sans-serif; margin: 1.5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: .35rem .6rem; text-align: start; vertical-align: top; }
th { background: #f3f3f3; }
.ltr { direction: ltr; unicode-bidi: embed; }
"""


def render(records: list[dict[str, Any]], stats: dict[str, Any]) -> str:
    identities = [r for r in records if r["kind"] in _IDENTITY_KINDS]
    documents = [r for r in records if r["kind"] not in _IDENTITY_KINDS]
    names = {r["crmId"]: display_name(r) for r in identities}
    rows = "\n".join(_row(record) for record in reversed(identities)) or (
        '<tr><td colspan="6">هنوز رکوردی نیست (no records yet)</td></tr>'
    )
    document_rows = "\n".join(_document_row(record, names) for record in reversed(documents)) or (
        '<tr><td colspan="5">هنوز سندی نیست (no documents yet)</td></tr>'
    )
    return f"""<!DOCTYPE html>
<html lang="fa" dir="rtl">
<head>
<meta charset="utf-8">
<title>Payamgostar sandbox — مخاطبین</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>Payamgostar sandbox — مخاطبین ({len(identities)})</h1>
<p class="ltr">API calls: {sum(stats["calls"].values())} · writes: {stats["writes"]} ·
<a href="/_sandbox/webhooks">webhooks</a>: {stats["webhooks"]["sent"]} sent, {stats["webhooks"]["failed"]} failed,
{stats["webhooks"]["dropped"]} dropped ·
<a href="/_sandbox/stats">stats</a> · <a href="/_sandbox/records">records (JSON)</a> ·
<a href="/_sandbox/settings">settings</a></p>
<table>
<thead><tr><th>نوع (kind)</th><th>شماره مشتری (customer no.)</th><th>نام (name)</th>
<th>کد ملی (national code)</th><th>تلفن‌ها (phones)</th><th>آخرین تغییر (modified)</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<h2>کالاها و اسناد — products and documents ({len(documents)})</h2>
<table>
<thead><tr><th>نوع (kind)</th><th>شماره یا کد (number / code)</th><th>نام یا مشتری (name / customer)</th>
<th>مبلغ (amount)</th><th>آخرین تغییر (modified)</th></tr></thead>
<tbody>
{document_rows}
</tbody>
</table>
</body>
</html>
"""


def _row(record: dict[str, Any]) -> str:
    phones = "<br>".join(
        escape(" ".join(p for p in (phone.get("phoneType"), phone.get("phoneNumber")) if p))
        for phone in record.get("phoneContacts") or []
    )
    cells = [
        escape(_KIND.get(record["kind"], record["kind"])),
        f'<span class="ltr">{escape(record.get("customerNumber") or "")}</span>',
        escape(display_name(record)),
        f'<span class="ltr">{escape(record.get("nationalCode") or "")}</span>',
        phones,
        f'<span class="ltr">{escape(record.get("modifyDate") or "")}</span>',
    ]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _document_row(record: dict[str, Any], names: dict[str, str]) -> str:
    if record["kind"] == "product":
        number, name, amount = record.get("code"), record.get("name"), record.get("unitPrice")
    else:
        number, amount = record.get("number"), record.get("finalValue")
        name = names.get(record.get("identityId") or "", record.get("identityId"))
    cells = [
        escape(_KIND.get(record["kind"], record["kind"])),
        f'<span class="ltr">{escape(number or "")}</span>',
        escape(name or ""),
        f'<span class="ltr">{escape("" if amount is None else f"{amount:,}")}</span>',
        f'<span class="ltr">{escape(record.get("modifyDate") or "")}</span>',
    ]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"
