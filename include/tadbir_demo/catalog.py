"""Product families for the demo catalog: group name and item templates with a base Rial price."""

from __future__ import annotations

from dataclasses import dataclass

# __Unit__ rows: (Id, Name)
UNITS: tuple[tuple[int, str], ...] = ((1, "عدد"), (2, "کیلوگرم"), (3, "متر"), (4, "بسته"))
EACH, KILOGRAM, METRE, PACK = 1, 2, 3, 4
FRACTIONAL_UNITS = frozenset({KILOGRAM, METRE})


@dataclass(frozen=True)
class ItemTemplate:
    name: str  # with one "{}" for the variant
    variants: tuple[str, ...]
    unit_id: int
    base_price: int  # Rials, fiscal year 1403


@dataclass(frozen=True)
class Family:
    group_name: str
    items: tuple[ItemTemplate, ...]

    def expand(self) -> list[tuple[str, int, int]]:
        """All ``(name, unit_id, base_price)`` products of the family."""
        return [(t.name.format(v), t.unit_id, t.base_price) for t in self.items for v in t.variants]


def _t(name: str, variants: str, unit_id: int, base_price: int) -> ItemTemplate:
    return ItemTemplate(name, tuple(variants.split("|")), unit_id, base_price)


FAMILIES: tuple[Family, ...] = (
    Family("لوازم برقی و روشنایی", (
        _t("لامپ LED {} وات", "7|10|15|20|30", EACH, 450_000),
        _t("کابل برق افشان {} میلی‌متر", "1.5|2.5|4|6", METRE, 180_000),
        _t("کلید تک‌پل {}", "سفید|کرم", EACH, 220_000),
        _t("پریز برق {}", "ارت‌دار|ساده", EACH, 250_000),
        _t("فیوز مینیاتوری {} آمپر", "10|16|25|32", EACH, 600_000),
        _t("محافظ برق {} خانه", "3|4|6", EACH, 1_800_000),
        _t("چسب برق {}", "مشکی|سفید", PACK, 150_000),
    )),
    Family("ابزار", (
        _t("پیچ‌گوشتی {}", "دوسو|چهارسو|فازمتر", EACH, 350_000),
        _t("آچار فرانسه {} اینچ", "8|10|12", EACH, 1_200_000),
        _t("دریل شارژی {} ولت", "12|18", EACH, 45_000_000),
        _t("متر نواری {} متری", "3|5|8", EACH, 700_000),
        _t("انبردست {}", "معمولی|دم‌باریک", EACH, 900_000),
        _t("میخ فولادی {} سانتی", "3|5|7", KILOGRAM, 950_000),
        _t("پیچ ام‌دی‌اف {}", "3×30|4×40", PACK, 400_000),
    )),
    Family("مواد غذایی", (
        _t("برنج ایرانی {}", "طارم|هاشمی|دم‌سیاه", KILOGRAM, 2_400_000),
        _t("روغن مایع {} لیتری", "1.5|2|5", EACH, 1_100_000),
        _t("قند {}", "شکسته|حبه", KILOGRAM, 600_000),
        _t("شکر {}", "سفید|قهوه‌ای", KILOGRAM, 550_000),
        _t("چای {} گرمی", "450|500", PACK, 2_000_000),
        _t("رب گوجه‌فرنگی {} گرمی", "800|1500", EACH, 700_000),
        _t("ماکارونی {}", "فرمی|رشته‌ای", PACK, 350_000),
        _t("عدس {}", "درشت|ریز", KILOGRAM, 1_300_000),
    )),
    Family("لوازم‌التحریر", (
        _t("دفتر {} برگ", "40|60|100|200", EACH, 250_000),
        _t("خودکار {}", "آبی|مشکی|قرمز", PACK, 500_000),
        _t("کاغذ {}", "A4|A5|A3", PACK, 2_500_000),
        _t("ماژیک وایت‌برد {}", "آبی|مشکی|قرمز|سبز", EACH, 180_000),
        _t("منگنه {}", "کوچک|متوسط|بزرگ", EACH, 650_000),
    )),
    Family("شوینده و بهداشتی", (
        _t("مایع ظرفشویی {} لیتری", "1|4", EACH, 450_000),
        _t("پودر لباسشویی {} گرمی", "500|3000", EACH, 900_000),
        _t("دستمال کاغذی {} برگ", "100|150|200", PACK, 300_000),
        _t("صابون {}", "گلیسیرینه|زیتون", EACH, 120_000),
        _t("شامپو {}", "معمولی|ضد شوره", EACH, 650_000),
        _t("مایع دستشویی {}", "صورتی|سبز", EACH, 380_000),
    )),
    Family("لوازم ساختمانی", (
        _t("لوله پلی‌اتیلن {} اینچ", "1/2|3/4|1", METRE, 250_000),
        _t("شیر برنجی {} اینچ", "1/2|3/4", EACH, 900_000),
        _t("چسب کاشی {}", "پودری|خمیری", KILOGRAM, 150_000),
        _t("سیمان {}", "تیپ 2|سفید", KILOGRAM, 45_000),
        _t("رنگ پلاستیک {}", "سفید|کرم|طوسی", EACH, 3_500_000),
        _t("گچ {}", "سفید|ساختمانی", KILOGRAM, 40_000),
    )),
)
