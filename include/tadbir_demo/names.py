"""Persian name pools for demo people and organizations.

Each entry is ``(persian, latin)``; the latin form is only used to build plausible e-mail addresses.
Text uses the Persian letters ی (U+06CC) and ک (U+06A9); the Arabic forms are added as dirt later.
"""

from __future__ import annotations

import random

MALE_FIRST_NAMES: tuple[tuple[str, str], ...] = (
    ("علی", "ali"), ("محمد", "mohammad"), ("حسین", "hossein"), ("رضا", "reza"),
    ("مهدی", "mahdi"), ("امیر", "amir"), ("حسن", "hasan"), ("مصطفی", "mostafa"),
    ("سعید", "saeed"), ("مجید", "majid"), ("کامران", "kamran"), ("بهروز", "behrouz"),
    ("فرهاد", "farhad"), ("کاوه", "kaveh"), ("یوسف", "yousef"), ("یاسر", "yaser"),
    ("کیوان", "keyvan"), ("محسن", "mohsen"), ("مرتضی", "morteza"), ("جواد", "javad"),
    ("حمید", "hamid"), ("ناصر", "naser"), ("پیمان", "peyman"), ("بابک", "babak"),
    ("داریوش", "dariush"), ("سیاوش", "siavash"), ("آرش", "arash"), ("امید", "omid"),
    ("وحید", "vahid"), ("یزدان", "yazdan"), ("کریم", "karim"), ("اکبر", "akbar"),
    ("محمدرضا", "mohammadreza"), ("علیرضا", "alireza"), ("عبدالله", "abdollah"), ("ابراهیم", "ebrahim"),
)

FEMALE_FIRST_NAMES: tuple[tuple[str, str], ...] = (
    ("فاطمه", "fatemeh"), ("زهرا", "zahra"), ("مریم", "maryam"), ("سارا", "sara"),
    ("نرگس", "narges"), ("لیلا", "leila"), ("مینا", "mina"), ("نیلوفر", "niloufar"),
    ("الهام", "elham"), ("شیرین", "shirin"), ("پریسا", "parisa"), ("کبری", "kobra"),
    ("کیمیا", "kimia"), ("یاسمن", "yasaman"), ("ریحانه", "reyhaneh"), ("سمیرا", "samira"),
    ("آزاده", "azadeh"), ("مهسا", "mahsa"), ("طاهره", "tahereh"), ("نسرین", "nasrin"),
    ("سیمین", "simin"), ("پروین", "parvin"), ("مهناز", "mahnaz"), ("کتایون", "katayoun"),
)

LAST_NAMES: tuple[tuple[str, str], ...] = (
    ("احمدی", "ahmadi"), ("محمدی", "mohammadi"), ("حسینی", "hosseini"), ("رضایی", "rezaei"),
    ("کریمی", "karimi"), ("موسوی", "mousavi"), ("جعفری", "jafari"), ("کاظمی", "kazemi"),
    ("رحیمی", "rahimi"), ("صادقی", "sadeghi"), ("حیدری", "heydari"), ("نوری", "nouri"),
    ("قاسمی", "ghasemi"), ("مرادی", "moradi"), ("اکبری", "akbari"), ("یزدانی", "yazdani"),
    ("کرمانی", "kermani"), ("شیرازی", "shirazi"), ("تهرانی", "tehrani"), ("اصفهانی", "esfahani"),
    ("طاهری", "taheri"), ("سلیمانی", "soleimani"), ("عباسی", "abbasi"), ("فرهادی", "farhadi"),
    ("نجفی", "najafi"), ("کیانی", "kiani"), ("یوسفی", "yousefi"), ("باقری", "bagheri"),
    ("زارعی", "zarei"), ("ملکی", "maleki"), ("شریفی", "sharifi"), ("امینی", "amini"),
    ("کاشانی", "kashani"), ("بهرامی", "bahrami"), ("پاکزاد", "pakzad"), ("توکلی", "tavakoli"),
    ("خسروی", "khosravi"), ("دهقان", "dehghan"), ("رستمی", "rostami"), ("سبحانی", "sobhani"),
    ("عسگری", "asgari"), ("فتحی", "fathi"), ("قربانی", "ghorbani"), ("کامکار", "kamkar"),
    ("گودرزی", "goudarzi"), ("لطفی", "lotfi"), ("منصوری", "mansouri"), ("نیک‌نام", "niknam"),
    ("وکیلی", "vakili"), ("هاشمی", "hashemi"), ("یگانه", "yeganeh"), ("میرزایی", "mirzaei"),
    ("شکوهی", "shokouhi"), ("کوهی", "kouhi"), ("آقایی", "aghaei"), ("بیگی", "beigi"),
)

# Cores for organization names: ("persian", "latin slug for the web domain").
ORG_CORES: tuple[tuple[str, str], ...] = (
    ("آریا", "arya"), ("پارس", "pars"), ("نوین", "novin"), ("سپهر", "sepehr"),
    ("البرز", "alborz"), ("کیان", "kian"), ("آسیا", "asia"), ("مهر", "mehr"),
    ("سامان", "saman"), ("رایان", "rayan"), ("پیشرو", "pishro"), ("دنا", "dena"),
    ("زاگرس", "zagros"), ("کاوه", "kaveh"), ("ارم", "eram"), ("آفتاب", "aftab"),
    ("ستاره", "setareh"), ("نگین", "negin"), ("الماس", "almas"), ("بهار", "bahar"),
    ("پویا", "pouya"), ("تابان", "taban"), ("فردوس", "ferdos"), ("یاس", "yas"),
    ("سینا", "sina"), ("دماوند", "damavand"), ("صدرا", "sadra"), ("آرمان", "arman"),
    ("کیمیا", "kimia"), ("آتیه", "atieh"), ("نیکان", "nikan"), ("کوثر", "kowsar"),
)

ORG_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("گستر", "gostar"), ("تجارت", "tejarat"), ("صنعت", "sanat"), ("پخش", "pakhsh"),
    ("سازان", "sazan"), ("پردازان", "pardazan"), ("تدبیر", "tadbir"), ("کالا", "kala"),
)

ORG_ACTIVITIES: tuple[str, ...] = (
    "پخش", "مهندسی", "بازرگانی", "تولیدی", "صنایع غذایی", "فنی و مهندسی", "خدماتی",
)

ORG_LEGAL_FORMS: tuple[str, ...] = ("", "", "", " (سهامی خاص)", " (مسئولیت محدود)")

SHOP_KINDS: tuple[str, ...] = (
    "فروشگاه", "فروشگاه", "بازرگانی", "بازرگانی", "هایپر", "تعاونی مصرف", "نمایندگی",
)

CUSTOMER_GROUPS: tuple[str, ...] = ("عمده‌فروش", "خرده‌فروش", "پخش", "سازمانی", "")


def person_name(rng: random.Random) -> tuple[str, str, str]:
    """Return ``(full name, latin first, latin last)``."""
    pool = MALE_FIRST_NAMES if rng.random() < 0.7 else FEMALE_FIRST_NAMES
    first, first_latin = rng.choice(pool)
    last, last_latin = rng.choice(LAST_NAMES)
    return f"{first} {last}", first_latin, last_latin


def organization_name(rng: random.Random) -> tuple[str, str]:
    """Return ``(organization name, latin slug)`` in one of several realistic patterns."""
    pattern = rng.randrange(5)
    core, core_latin = rng.choice(ORG_CORES)
    if pattern == 0:
        suffix, suffix_latin = rng.choice(ORG_SUFFIXES)
        return f"شرکت {core} {suffix}{rng.choice(ORG_LEGAL_FORMS)}", f"{core_latin}{suffix_latin}"
    if pattern == 1:
        activity = rng.choice(ORG_ACTIVITIES)
        return f"شرکت {activity} {core}{rng.choice(ORG_LEGAL_FORMS)}", f"{core_latin}co"
    if pattern == 2:
        last, last_latin = rng.choice(LAST_NAMES)
        return f"{rng.choice(SHOP_KINDS)} {last}", f"{last_latin}shop"
    if pattern == 3:
        last, last_latin = rng.choice(LAST_NAMES)
        return f"{rng.choice(SHOP_KINDS)} برادران {last}", f"{last_latin}bros"
    return f"{rng.choice(SHOP_KINDS)} {core}", f"{core_latin}store"
