"""Iranian provinces, cities (with telephone area codes) and street names for demo addresses."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    province: str
    city: str
    area_code: str  # landline prefix, e.g. "021"
    weight: int  # relative share of customers


CITIES: tuple[City, ...] = (
    City("تهران", "تهران", "021", 30),
    City("تهران", "شهریار", "021", 3),
    City("تهران", "اسلامشهر", "021", 2),
    City("البرز", "کرج", "026", 6),
    City("اصفهان", "اصفهان", "031", 8),
    City("اصفهان", "کاشان", "031", 2),
    City("خراسان رضوی", "مشهد", "051", 7),
    City("خراسان رضوی", "نیشابور", "051", 1),
    City("آذربایجان شرقی", "تبریز", "041", 5),
    City("آذربایجان غربی", "ارومیه", "044", 2),
    City("فارس", "شیراز", "071", 5),
    City("خوزستان", "اهواز", "061", 3),
    City("قم", "قم", "025", 3),
    City("کرمان", "کرمان", "034", 2),
    City("گیلان", "رشت", "013", 3),
    City("مازندران", "ساری", "011", 2),
    City("مازندران", "بابل", "011", 2),
    City("یزد", "یزد", "035", 2),
    City("کرمانشاه", "کرمانشاه", "083", 2),
    City("همدان", "همدان", "081", 2),
    City("مرکزی", "اراک", "086", 2),
    City("قزوین", "قزوین", "028", 2),
    City("گلستان", "گرگان", "017", 1),
    City("هرمزگان", "بندرعباس", "076", 2),
)

_CITY_WEIGHTS = [c.weight for c in CITIES]

STREETS: tuple[str, ...] = (
    "خیابان ولیعصر", "خیابان انقلاب", "خیابان آزادی", "بلوار کشاورز", "خیابان شریعتی",
    "خیابان امام خمینی", "بلوار ملت", "خیابان فردوسی", "خیابان حافظ", "خیابان سعدی",
    "خیابان مطهری", "خیابان بهشتی", "بلوار جمهوری", "خیابان طالقانی", "بلوار کریمخان",
    "خیابان پاسداران", "بلوار میرداماد", "خیابان کارگر", "بلوار فرهنگ", "خیابان نیایش",
)

ALLEYS: tuple[str, ...] = (
    "کوچه گلستان", "کوچه نسترن", "کوچه یاس", "کوچه بهار", "کوچه شقایق", "کوچه لاله",
    "کوچه صنوبر", "کوچه سرو", "کوچه ارغوان", "کوچه نیلوفر",
)

TEHRAN_ZONES: tuple[str, ...] = tuple(f"منطقه {n}" for n in range(1, 23))


def pick_city(rng: random.Random) -> City:
    return rng.choices(CITIES, weights=_CITY_WEIGHTS, k=1)[0]


def address(rng: random.Random) -> str:
    parts = [rng.choice(STREETS)]
    if rng.random() < 0.7:
        alley = rng.choice(ALLEYS) if rng.random() < 0.7 else f"کوچه {rng.randint(1, 40)}"
        parts.append(alley)
    parts.append(f"پلاک {rng.randint(1, 250)}")
    if rng.random() < 0.5:
        parts.append(f"طبقه {rng.randint(1, 8)}")
    if rng.random() < 0.3:
        parts.append(f"واحد {rng.randint(1, 20)}")
    return "، ".join(parts)


def zone(rng: random.Random, city: City) -> str:
    return rng.choice(TEHRAN_ZONES) if city.city == "تهران" and rng.random() < 0.6 else ""
