"""Generate the demo topic and sentiment datasets in ``engine/tasks/demo_data/``.

The built-in demo runs the whole cross-lingual transfer protocol on a laptop CPU
with a tiny byte-level encoder trained from random weights: an English
intermediate task, then an English target task, then zero-shot evaluation of
the target in six languages. Real benchmarks are far too big (and need a
download), so small template-generated tasks ship instead. This script writes
the two single-sentence ones:

* ``demo-topic``      English topic classification (sports, food, weather,
                      technology): train (2000) and validation (300); an
                      intermediate task.
* ``demo-sentiment``  product / restaurant / film review sentiment: train
                      (2000) and validation (300) in English, test (300) in
                      en, de, es, ru, zh and ar; a target task.

(The demo's sentence-pair tasks come from ``scripts/generate_demo_xqa.py``.)

Design choices, and why:

* Every template is written by hand per language (real translations, correct
  agreement and script), so the six test sets are translations of the same
  underlying items, with the same labels.
* English is learnable from scratch in a few hundred steps (the label follows
  from the words), while the other languages share no words with English and
  can only be solved through language-independent cues, as in real reviews:
  star ratings, scores and emoji in about a third of the reviews, some of them
  noisy. Zero-shot scores therefore land above chance but well below English.
* Sentences are short: the tiny model reads UTF-8 bytes (128 per sentence).

The output is deterministic: standard library only, fixed seeds, stable
ordering. Run from anywhere: ``python scripts/generate_demo_data.py``.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

SEED = 20240611
OUT_DIR = Path(__file__).resolve().parent.parent / "engine" / "tasks" / "demo_data"
LANGS = ("en", "de", "es", "ru", "zh", "ar")

# Characters per sentence (exclusive bound) and UTF-8 bytes per sentence: the
# model sees at most 128 bytes per sentence, and Cyrillic, Arabic and Chinese
# need 2-3 bytes per character.
MAX_CHARS = {"en": 100, "de": 100, "es": 100, "ru": 70, "zh": 40, "ar": 70}
MAX_BYTES = 120

# Split sizes: English train and validation for every task, and a test set in
# every language for the target task.
EN_ONLY = (("train", 2000), ("validation", 300))
TARGET_TEST = 300


# --------------------------------------------------------------------------
# Template filling shared by all tasks
# --------------------------------------------------------------------------

# "[masc|fem:role]" picks a form by the gender of a slot (Arabic "laysa" /
# "laysat" agrees with its noun); "{role}" inserts a slot value.
_CHOICE = re.compile(r"\[([^\[\]|]*)\|([^\[\]|]*):(\w+)\]")
_SLOT = re.compile(r"\{(\w+)\}")


def fill(template: str, slots: dict[str, str], genders: dict[str, str]) -> str:
    """Fill a template: gendered choices first, then slot values."""

    def choose(m: re.Match) -> str:
        return m.group(1) if genders[m.group(3)] == "m" else m.group(2)

    text = _CHOICE.sub(choose, template)
    return _SLOT.sub(lambda m: slots[m.group(1)], text)


def cap(text: str) -> str:
    """Upper-case the first letter (sentence-initial noun phrases)."""
    return text[:1].upper() + text[1:]


def fits(lang: str, *texts: str) -> bool:
    """True when every sentence is short enough for the tiny model."""
    return all(
        len(t) < MAX_CHARS[lang] and len(t.encode("utf-8")) <= MAX_BYTES for t in texts
    )


# --------------------------------------------------------------------------
# Shared fillers
# --------------------------------------------------------------------------

NAMES = [
    "Anna",
    "Maria",
    "Laura",
    "Clara",
    "Nina",
    "Eva",
    "Emma",
    "Sara",
    "Julia",
    "Sofia",
    "David",
    "Thomas",
    "Martin",
    "Robert",
    "Daniel",
    "Adam",
    "Lucas",
    "Oscar",
    "Victor",
    "Felix",
]
CITIES = [
    "London",
    "Paris",
    "Berlin",
    "Madrid",
    "Rome",
    "Vienna",
    "Prague",
    "Lisbon",
    "Tokyo",
    "Moscow",
    "Beijing",
    "Boston",
    "Sydney",
    "Athens",
    "Warsaw",
    "Oslo",
    "Dublin",
    "Toronto",
    "Seoul",
]


# --------------------------------------------------------------------------
# Splitting, deduplication and writing
# --------------------------------------------------------------------------

# A generator returns {language: record} for one item of the given label, or
# None when the draw does not fit (too long in some language).
ItemMaker = Callable[[random.Random, str], "dict[str, dict] | None"]


def build_task(
    rng: random.Random,
    make: ItemMaker,
    labels: tuple[str, ...],
    plan: list[tuple[str, tuple[str, ...], int]],
) -> dict[tuple[str, str], list[dict]]:
    """Draw balanced, duplicate-free splits.

    Every item is rendered in all languages it has (so train and test come
    from the same distribution); uniqueness is checked on the English
    rendering across all splits, and per language within each file.
    """
    seen_en: set[str] = set()
    files: dict[tuple[str, str], list[dict]] = {}
    for split, langs, size in plan:
        rows: list[dict[str, dict]] = []
        seen_split: dict[str, set[str]] = {lang: set() for lang in langs}
        wanted = [labels[i % len(labels)] for i in range(size)]
        for label in wanted:
            for _ in range(10_000):
                item = make(rng, label)
                if item is None:
                    continue
                keys = {lang: json.dumps(item[lang], sort_keys=True) for lang in langs}
                if keys["en"] in seen_en:
                    continue
                if any(keys[lang] in seen_split[lang] for lang in langs):
                    continue
                seen_en.add(keys["en"])
                for lang in langs:
                    seen_split[lang].add(keys[lang])
                rows.append(item)
                break
            else:
                raise RuntimeError(f"could not draw a new {label!r} item for {split}")
        rng.shuffle(rows)
        for lang in langs:
            files[(split, lang)] = [row[lang] for row in rows]
    return files


def write_task(task: str, files: dict[tuple[str, str], list[dict]]) -> None:
    folder = OUT_DIR / task
    folder.mkdir(parents=True, exist_ok=True)
    for (split, lang), records in files.items():
        path = folder / f"{split}.{lang}.jsonl"
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
        with path.open("w", encoding="utf-8", newline="\n") as f:
            f.writelines(lines)
        counts = Counter(r["label"] for r in records)
        balance = ", ".join(f"{k}={counts[k]}" for k in sorted(counts))
        print(f"{task}/{path.name}: {len(records)} lines ({balance})")


def plan_for(langs: tuple[str, ...]) -> list[tuple[str, tuple[str, ...], int]]:
    plan = [(split, ("en",), size) for split, size in EN_ONLY]
    if langs != ("en",):
        # The test sets of all languages are renderings of the same items.
        plan.append(("test", langs, TARGET_TEST))
    return plan


# --------------------------------------------------------------------------
# demo-topic: English topic classification
# --------------------------------------------------------------------------

# Shared fillers appear under every topic, so the model must find the topical
# words rather than memorise names or places.
TOPIC_FILL = {
    "name": NAMES,
    "city": CITIES,
    "day": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split(),
    "n": [str(n) for n in (2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40)],
    "few": ["2", "3", "4", "5", "6"],
    "team": [
        "United",
        "Rovers",
        "City",
        "Athletic",
        "the Tigers",
        "the Eagles",
        "the Wolves",
        "the Sharks",
    ],
    "sport": [
        "football",
        "tennis",
        "basketball",
        "hockey",
        "rugby",
        "volleyball",
        "cricket",
        "baseball",
    ],
    "dish": [
        "soup",
        "curry",
        "lasagne",
        "risotto",
        "stew",
        "omelette",
        "pie",
        "paella",
        "salad",
        "noodle soup",
    ],
    "ingredient": [
        "garlic",
        "ginger",
        "basil",
        "onions",
        "mushrooms",
        "lemon",
        "butter",
        "cream",
        "chilli",
        "parsley",
    ],
    "bake": [
        "bread",
        "a cake",
        "cookies",
        "croissants",
        "muffins",
        "a pie",
        "pancakes",
    ],
    "sky": [
        "rain",
        "snow",
        "thunderstorms",
        "fog",
        "strong winds",
        "hail",
        "showers",
        "sleet",
    ],
    "sky_cap": ["Rain", "Snow", "Ice", "Flooding", "Hail", "Fallen trees"],
    "metres": ["100", "200", "400", "800", "1500", "5000"],
    "produce": [
        "tomatoes",
        "peaches",
        "strawberries",
        "cherries",
        "olives",
        "mushrooms",
        "grapes",
    ],
    "device": [
        "phone",
        "laptop",
        "tablet",
        "smartwatch",
        "camera",
        "e-reader",
        "headset",
    ],
    "computer": ["laptop", "desktop PC", "office server", "old computer"],
    "company": ["Nexa", "Orbitel", "Quantix", "Lumio", "Dataflow", "Byteworks"],
    "software": [
        "app",
        "browser",
        "operating system",
        "password manager",
        "photo editor",
        "chat app",
    ],
}

TOPIC_TEMPLATES = {
    "sports": [
        "{team} beat {team} {few} to 1 on {day}.",
        "{name} scored twice in the second half against {team}.",
        "The {sport} season in {city} starts again next {day}.",
        "Our coach wants extra training before the {sport} final.",
        "{name} broke the national record in the {metres} metres.",
        "Tickets for the {sport} final sold out in {n} minutes.",
        "The referee sent off two {team} players in the first half.",
        "{team} signed a new goalkeeper from {city}.",
        "{name} won the tennis match in {city} after five long sets.",
        "The marathon in {city} had over {n} thousand runners.",
        "The {sport} team trains at the stadium every {day}.",
        "{name} injured a knee and will miss the next {few} games.",
        "{team} are top of the {sport} league after {n} wins in a row.",
        "{name} is the new captain of the national {sport} team.",
    ],
    "food": [
        "This {dish} needs a little more {ingredient}.",
        "{name} baked {bake} for the whole family on {day}.",
        "Add the {ingredient} and let it simmer for {n} minutes.",
        "The new bakery in {city} sells amazing {bake}.",
        "We had {dish} with fresh bread for dinner on {day}.",
        "My grandmother's {dish} recipe uses a lot of {ingredient}.",
        "Chop the {ingredient} and fry it in olive oil for {n} minutes.",
        "The chef in {city} is famous for her {dish}.",
        "{name} is learning to cook {dish} without a recipe.",
        "Season the {dish} with salt, pepper and {ingredient}.",
        "The market in {city} has the best {produce} on {day}.",
        "Leave the dough to rise for {n} minutes before baking {bake}.",
        "{name} makes {dish} with {ingredient} every {day}.",
        "Serve the {dish} warm with a bowl of {produce}.",
    ],
    "weather": [
        "Heavy {sky} is expected in {city} on {day}.",
        "Temperatures in {city} will drop to minus {few} degrees tonight.",
        "A storm warning was issued for the coast near {city}.",
        "It will be sunny and warm in {city} all weekend.",
        "{sky_cap} closed several roads around {city} this morning.",
        "The forecast for {day} says {sky} in the afternoon.",
        "Fog delayed flights at the {city} airport on {day}.",
        "{city} had its hottest summer day in {n} years.",
        "Bring an umbrella, there will be {sky} later on {day}.",
        "The wind will reach {n} kilometres per hour near {city}.",
        "After a week of {sky}, the sky over {city} is finally clear.",
        "Meteorologists expect a cold and wet {day} in {city}.",
        "The {sky} should stop in {city} by {day} evening.",
        "{n} centimetres of snow fell in the hills above {city}.",
    ],
    "technology": [
        "The new {device} has a faster chip and more memory.",
        "{company} released an update that fixes the {device} battery bug.",
        "{name} wrote a script to back up the server every night.",
        "Our {software} crashed after the latest update on {day}.",
        "A startup in {city} is building chips for AI models.",
        "You can now unlock the new {company} phone with your fingerprint.",
        "The {company} website was down for {n} hours after a cyberattack.",
        "{company} announced a cheaper {device} on {day}.",
        "Remember to install the security patch for your {software}.",
        "{name} replaced the hard drive in the {computer} with a faster SSD.",
        "The {software} now syncs your files across all devices.",
        "{company} will stop supporting its old {device} next year.",
        "{name} found a bug in the {software} and reported it on {day}.",
        "The {company} data centre in {city} uses {n} thousand servers.",
    ],
}
TOPIC_LABELS = ("sports", "food", "weather", "technology")


def make_topic(rng: random.Random, label: str) -> dict[str, dict] | None:
    template = rng.choice(TOPIC_TEMPLATES[label])
    # Each slot is drawn independently (two {team} slots get different teams).
    used: set[str] = set()

    def draw(m: re.Match) -> str:
        options = [v for v in TOPIC_FILL[m.group(1)] if v not in used]
        value = rng.choice(options)
        used.add(value)
        return value

    text = cap(_SLOT.sub(draw, template))
    return {"en": {"text": text, "label": label}} if fits("en", text) else None


# --------------------------------------------------------------------------
# demo-sentiment: review sentiment in six languages
# --------------------------------------------------------------------------

SENT_LABELS = ("negative", "positive")
DOMAINS = ("product", "restaurant", "film")

# Reviewed things. Kind decides which adjectives fit ("delicious" only for
# food). Gendered languages give "gender noun"; zh gives "this X" with its
# measure word; ar gives "gender definite-noun".
NOUNS = {
    "product": [
        (
            "product",
            "phone",
            "n Handy",
            "m teléfono",
            "m телефон",
            "这部手机",
            "m الهاتف",
        ),
        (
            "product",
            "laptop",
            "m Laptop",
            "m portátil",
            "m ноутбук",
            "这台笔记本电脑",
            "m الحاسوب المحمول",
        ),
        (
            "product",
            "camera",
            "f Kamera",
            "f cámara",
            "f камера",
            "这台相机",
            "f الكاميرا",
        ),
        (
            "product",
            "kettle",
            "m Wasserkocher",
            "m hervidor",
            "m чайник",
            "这个电水壶",
            "f الغلاية",
        ),
        (
            "product",
            "vacuum cleaner",
            "m Staubsauger",
            "f aspiradora",
            "m пылесос",
            "这台吸尘器",
            "f المكنسة الكهربائية",
        ),
        ("product", "bag", "f Tasche", "m bolso", "f сумка", "这个包", "f الحقيبة"),
        (
            "product",
            "blender",
            "m Mixer",
            "f batidora",
            "m блендер",
            "这台搅拌机",
            "m الخلاط",
        ),
        (
            "product",
            "printer",
            "m Drucker",
            "f impresora",
            "m принтер",
            "这台打印机",
            "f الطابعة",
        ),
    ],
    "restaurant": [
        ("food", "soup", "f Suppe", "f sopa", "m суп", "这碗汤", "m الحساء"),
        ("food", "pizza", "f Pizza", "f pizza", "f пицца", "这个披萨", "f البيتزا"),
        (
            "food",
            "burger",
            "m Burger",
            "f hamburguesa",
            "m бургер",
            "这个汉堡",
            "m البرغر",
        ),
        (
            "food",
            "dessert",
            "m Nachtisch",
            "m postre",
            "m десерт",
            "这份甜点",
            "f الحلوى",
        ),
        ("food", "coffee", "m Kaffee", "m café", "m кофе", "这杯咖啡", "f القهوة"),
        ("food", "pasta", "f Pasta", "f pasta", "f паста", "这份意面", "f المعكرونة"),
        ("food", "salad", "m Salat", "f ensalada", "m салат", "这份沙拉", "f السلطة"),
        (
            "venue",
            "service",
            "m Service",
            "m servicio",
            "n обслуживание",
            "这里的服务",
            "f الخدمة",
        ),
        (
            "venue",
            "restaurant",
            "n Restaurant",
            "m restaurante",
            "m ресторан",
            "这家餐厅",
            "m المطعم",
        ),
    ],
    "film": [
        ("film", "film", "m Film", "f película", "m фильм", "这部电影", "m الفيلم"),
        ("film", "series", "f Serie", "f serie", "m сериал", "这部剧", "m المسلسل"),
        ("film", "ending", "n Ende", "m final", "f концовка", "这个结局", "f النهاية"),
        (
            "film",
            "soundtrack",
            "m Soundtrack",
            "f banda sonora",
            "m саундтрек",
            "这部电影的配乐",
            "f الموسيقى التصويرية",
        ),
        (
            "film",
            "plot",
            "f Handlung",
            "f trama",
            "m сюжет",
            "这部电影的剧情",
            "f القصة",
        ),
        (
            "film",
            "documentary",
            "m Dokumentarfilm",
            "m documental",
            "m документальный фильм",
            "这部纪录片",
            "m الفيلم الوثائقي",
        ),
    ],
}

# Second nouns for two-opinion reviews of a product: aspects of the purchase
# (restaurants and films pair two of their own nouns instead).
ASPECTS = [
    ("aspect", "design", "n Design", "m diseño", "m дизайн", "外观", "m التصميم"),
    (
        "aspect",
        "delivery",
        "f Lieferung",
        "f entrega",
        "f доставка",
        "物流",
        "m التوصيل",
    ),
    (
        "aspect",
        "customer service",
        "m Kundenservice",
        "f atención al cliente",
        "f поддержка",
        "客服",
        "f خدمة العملاء",
    ),
]

# Which nouns may be the second one in a review of each domain.
SECOND_NOUNS = {
    "product": ASPECTS,
    "restaurant": NOUNS["restaurant"],
    "film": [n for n in NOUNS["film"] if n[1] in ("ending", "soundtrack", "plot")],
}

# Predicative adjectives: polarity, kinds ("" = any), en, de, es "m|f",
# ru "m|f|n", zh (with its degree adverb), ar "m|f".
ADJECTIVES = [
    (
        "positive",
        "",
        "excellent",
        "ausgezeichnet",
        "excelente|excelente",
        "отличный|отличная|отличное",
        "非常出色",
        "ممتاز|ممتازة",
    ),
    (
        "positive",
        "",
        "great",
        "großartig",
        "genial|genial",
        "замечательный|замечательная|замечательное",
        "很棒",
        "رائع|رائعة",
    ),
    (
        "positive",
        "",
        "wonderful",
        "wunderbar",
        "maravilloso|maravillosa",
        "прекрасный|прекрасная|прекрасное",
        "好极了",
        "مدهش|مدهشة",
    ),
    (
        "positive",
        "",
        "fantastic",
        "fantastisch",
        "fantástico|fantástica",
        "потрясающий|потрясающая|потрясающее",
        "棒极了",
        "مذهل|مذهلة",
    ),
    (
        "positive",
        "",
        "very good",
        "sehr gut",
        "muy bueno|muy buena",
        "очень хороший|очень хорошая|очень хорошее",
        "非常好",
        "جيد جدا|جيدة جدا",
    ),
    (
        "positive",
        "",
        "perfect",
        "perfekt",
        "perfecto|perfecta",
        "идеальный|идеальная|идеальное",
        "很完美",
        "مثالي|مثالية",
    ),
    (
        "positive",
        "food",
        "delicious",
        "köstlich",
        "delicioso|deliciosa",
        "очень вкусный|очень вкусная|очень вкусное",
        "很好吃",
        "لذيذ|لذيذة",
    ),
    (
        "positive",
        "film",
        "gripping",
        "fesselnd",
        "apasionante|apasionante",
        "захватывающий|захватывающая|захватывающее",
        "扣人心弦",
        "مشوق|مشوقة",
    ),
    (
        "positive",
        "product",
        "reliable",
        "zuverlässig",
        "fiable|fiable",
        "надёжный|надёжная|надёжное",
        "很可靠",
        "موثوق|موثوقة",
    ),
    (
        "positive",
        "product food",
        "affordable",
        "preiswert",
        "asequible|asequible",
        "недорогой|недорогая|недорогое",
        "很实惠",
        "بسعر معقول|بسعر معقول",
    ),
    (
        "negative",
        "",
        "terrible",
        "schrecklich",
        "horrible|horrible",
        "ужасный|ужасная|ужасное",
        "很糟糕",
        "فظيع|فظيعة",
    ),
    (
        "negative",
        "",
        "awful",
        "furchtbar",
        "pésimo|pésima",
        "отвратительный|отвратительная|отвратительное",
        "糟透了",
        "مريع|مريعة",
    ),
    (
        "negative",
        "",
        "bad",
        "schlecht",
        "malo|mala",
        "плохой|плохая|плохое",
        "很差",
        "سيئ|سيئة",
    ),
    (
        "negative",
        "",
        "mediocre",
        "mittelmäßig",
        "mediocre|mediocre",
        "посредственный|посредственная|посредственное",
        "很平庸",
        "عادي جدا|عادية جدا",
    ),
    (
        "negative",
        "",
        "poor",
        "schwach",
        "flojo|floja",
        "слабый|слабая|слабое",
        "很一般",
        "ضعيف|ضعيفة",
    ),
    (
        "negative",
        "food",
        "tasteless",
        "fade",
        "insípido|insípida",
        "безвкусный|безвкусная|безвкусное",
        "淡而无味",
        "بلا طعم|بلا طعم",
    ),
    (
        "negative",
        "film",
        "boring",
        "langweilig",
        "aburrido|aburrida",
        "скучный|скучная|скучное",
        "很无聊",
        "ممل|مملة",
    ),
    (
        "negative",
        "product",
        "unreliable",
        "unzuverlässig",
        "poco fiable|poco fiable",
        "ненадёжный|ненадёжная|ненадёжное",
        "很不可靠",
        "غير موثوق|غير موثوقة",
    ),
    (
        "negative",
        "product food venue",
        "overpriced",
        "überteuert",
        "demasiado caro|demasiado cara",
        "слишком дорогой|слишком дорогая|слишком дорогое",
        "太贵了",
        "باهظ الثمن|باهظة الثمن",
    ),
]

# Adjectives used under negation ("not X at all"): the label is the opposite
# of X's polarity, so "not" alone never decides the label. zh gives the whole
# negated phrase; ar gives the accusative forms that follow laysa.
NEGATABLE = [
    (
        "negative",
        "",
        "good",
        "gut",
        "bueno|buena",
        "хороший|хорошая|хорошее",
        "一点也不好",
        "جيدا|جيدة",
    ),
    (
        "negative",
        "film",
        "interesting",
        "interessant",
        "interesante|interesante",
        "интересный|интересная|интересное",
        "一点也不有趣",
        "مثيرا للاهتمام|مثيرة للاهتمام",
    ),
    (
        "negative",
        "product",
        "practical",
        "praktisch",
        "práctico|práctica",
        "удобный|удобная|удобное",
        "一点也不实用",
        "عمليا|عملية",
    ),
    (
        "negative",
        "food",
        "fresh",
        "frisch",
        "fresco|fresca",
        "свежий|свежая|свежее",
        "一点也不新鲜",
        "طازجا|طازجة",
    ),
    (
        "positive",
        "",
        "bad",
        "schlecht",
        "malo|mala",
        "плохой|плохая|плохое",
        "一点也不差",
        "سيئا|سيئة",
    ),
    (
        "positive",
        "film",
        "boring",
        "langweilig",
        "aburrido|aburrida",
        "скучный|скучная|скучное",
        "一点也不无聊",
        "مملا|مملة",
    ),
    (
        "positive",
        "product",
        "complicated",
        "kompliziert",
        "complicado|complicada",
        "сложный|сложная|сложное",
        "一点也不复杂",
        "معقدا|معقدة",
    ),
    (
        "positive",
        "food",
        "greasy",
        "fettig",
        "grasiento|grasienta",
        "жирный|жирная|жирное",
        "一点也不油腻",
        "دهنيا|دهنية",
    ),
    (
        "positive",
        "product food venue",
        "expensive",
        "teuer",
        "caro|cara",
        "дорогой|дорогая|дорогое",
        "一点也不贵",
        "غاليا|غالية",
    ),
]

# Whole-sentence verdicts, per polarity: generic ones for every domain, then
# domain-specific ones. Each row lists en, de, es, ru, zh, ar.
VERDICTS = {
    ("positive", ""): [
        (
            "Highly recommended!",
            "Sehr empfehlenswert!",
            "¡Muy recomendable!",
            "Очень рекомендую!",
            "强烈推荐！",
            "أنصح به بشدة!",
        ),
        (
            "Worth every penny.",
            "Jeden Cent wert.",
            "Vale cada céntimo.",
            "Стоит своих денег.",
            "物超所值。",
            "يستحق كل قرش.",
        ),
        (
            "We are very happy.",
            "Wir sind sehr zufrieden.",
            "Estamos muy contentos.",
            "Мы очень довольны.",
            "我们非常满意。",
            "نحن راضون جدا.",
        ),
        (
            "It exceeded all our expectations.",
            "Alle unsere Erwartungen wurden übertroffen.",
            "Superó todas nuestras expectativas.",
            "Превзошло все ожидания.",
            "超出了我们的预期。",
            "فاق كل توقعاتنا.",
        ),
        (
            "I love it!",
            "Ich bin begeistert!",
            "¡Me encanta!",
            "Я в восторге!",
            "我太喜欢了！",
            "أعجبني كثيرا!",
        ),
        (
            "A great experience.",
            "Eine tolle Erfahrung.",
            "Una experiencia estupenda.",
            "Отличные впечатления.",
            "很棒的体验。",
            "تجربة رائعة.",
        ),
        (
            "No complaints at all.",
            "Keinerlei Beschwerden.",
            "Ninguna queja.",
            "Никаких претензий.",
            "没有任何不满。",
            "لا توجد أي شكوى.",
        ),
    ],
    ("negative", ""): [
        (
            "Not recommended.",
            "Nicht empfehlenswert.",
            "No lo recomiendo.",
            "Не рекомендую.",
            "不推荐。",
            "لا أنصح به.",
        ),
        (
            "A total waste of money.",
            "Reine Geldverschwendung.",
            "Un desperdicio de dinero.",
            "Пустая трата денег.",
            "纯属浪费钱。",
            "مضيعة للمال.",
        ),
        (
            "We are very disappointed.",
            "Wir sind sehr enttäuscht.",
            "Estamos muy decepcionados.",
            "Мы очень разочарованы.",
            "我们非常失望。",
            "نشعر بخيبة أمل كبيرة.",
        ),
        (
            "Far below our expectations.",
            "Weit unter unseren Erwartungen.",
            "Muy por debajo de nuestras expectativas.",
            "Намного хуже, чем мы ждали.",
            "远低于我们的预期。",
            "أقل بكثير من توقعاتنا.",
        ),
        (
            "What a disappointment.",
            "Was für eine Enttäuschung.",
            "Qué decepción.",
            "Какое разочарование.",
            "太让人失望了。",
            "يا لها من خيبة أمل.",
        ),
        (
            "A terrible experience.",
            "Eine schreckliche Erfahrung.",
            "Una experiencia horrible.",
            "Ужасные впечатления.",
            "糟糕的体验。",
            "تجربة سيئة للغاية.",
        ),
        (
            "Never again.",
            "Nie wieder.",
            "Nunca más.",
            "Больше никогда.",
            "再也不会了。",
            "لن أكررها أبدا.",
        ),
    ],
    ("positive", "product"): [
        (
            "Would definitely buy again.",
            "Ich würde wieder zugreifen.",
            "Repetiría la compra.",
            "Обязательно куплю ещё.",
            "我还会再买。",
            "سأشتري مرة أخرى بالتأكيد.",
        ),
        (
            "Setup took two minutes.",
            "Die Einrichtung dauerte zwei Minuten.",
            "Se configura en dos minutos.",
            "Настройка заняла две минуты.",
            "两分钟就设置好了。",
            "استغرق الإعداد دقيقتين فقط.",
        ),
    ],
    ("negative", "product"): [
        (
            "I want my money back.",
            "Ich will mein Geld zurück.",
            "Quiero que me devuelvan el dinero.",
            "Хочу вернуть деньги.",
            "我要退款。",
            "أريد استرداد أموالي.",
        ),
        (
            "After a week, nothing worked anymore.",
            "Nach einer Woche funktionierte nichts mehr.",
            "A la semana ya no funcionaba nada.",
            "Через неделю всё сломалось.",
            "用了一周就坏了。",
            "بعد أسبوع توقف كل شيء عن العمل.",
        ),
    ],
    ("positive", "restaurant"): [
        (
            "We will definitely come back.",
            "Wir kommen bestimmt wieder.",
            "Sin duda volveremos.",
            "Обязательно вернёмся.",
            "我们一定会再来。",
            "سنعود بالتأكيد.",
        ),
        (
            "The staff were very friendly.",
            "Das Personal war sehr freundlich.",
            "El personal fue muy amable.",
            "Персонал был очень приветлив.",
            "服务员非常友好。",
            "كان الموظفون ودودين جدا.",
        ),
    ],
    ("negative", "restaurant"): [
        (
            "We will never come back.",
            "Wir kommen nie wieder.",
            "No volveremos nunca.",
            "Мы сюда больше не придём.",
            "我们再也不会来了。",
            "لن نعود أبدا.",
        ),
        (
            "We waited an hour for our food.",
            "Wir haben eine Stunde auf das Essen gewartet.",
            "Esperamos una hora la comida.",
            "Еду ждали целый час.",
            "我们等了一个小时才上菜。",
            "انتظرنا ساعة كاملة حتى وصل الطعام.",
        ),
    ],
    ("positive", "film"): [
        (
            "A must-see!",
            "Unbedingt ansehen!",
            "¡Imprescindible!",
            "Обязательно к просмотру!",
            "必看！",
            "يستحق المشاهدة بالتأكيد!",
        ),
        (
            "The actors are brilliant.",
            "Die Schauspieler sind brillant.",
            "Los actores son brillantes.",
            "Актёры великолепны.",
            "演员们的表演非常精彩。",
            "الممثلون رائعون.",
        ),
    ],
    ("negative", "film"): [
        (
            "Don't waste your time.",
            "Verschwendet nicht eure Zeit.",
            "No pierdan el tiempo.",
            "Не тратьте время.",
            "别浪费时间。",
            "لا تضيعوا وقتكم.",
        ),
        (
            "We fell asleep halfway through.",
            "Wir sind nach der Hälfte eingeschlafen.",
            "Nos quedamos dormidos a la mitad.",
            "Мы уснули на середине.",
            "我们看到一半就睡着了。",
            "نمنا في منتصف الفيلم.",
        ),
    ],
}

# Neutral context sentences (no opinion), per domain.
OPENERS = {
    "product": [
        (
            "We ordered online last month.",
            "Wir haben letzten Monat online bestellt.",
            "Hicimos el pedido por internet el mes pasado.",
            "Мы заказали онлайн в прошлом месяце.",
            "我们上个月在网上下的单。",
            "طلبنا عبر الإنترنت الشهر الماضي.",
        ),
        (
            "Delivery took three days.",
            "Die Lieferung dauerte drei Tage.",
            "La entrega tardó tres días.",
            "Доставка заняла три дня.",
            "快递用了三天。",
            "استغرق التوصيل ثلاثة أيام.",
        ),
        (
            "Two weeks of daily use.",
            "Zwei Wochen täglich im Einsatz.",
            "Dos semanas de uso diario.",
            "Две недели ежедневного использования.",
            "每天都用，已经两周了。",
            "أسبوعان من الاستخدام اليومي.",
        ),
        (
            "It was a birthday present.",
            "Es war ein Geburtstagsgeschenk.",
            "Fue un regalo de cumpleaños.",
            "Это был подарок на день рождения.",
            "这是别人送的生日礼物。",
            "كانت هدية عيد ميلاد.",
        ),
        (
            "We compared several brands first.",
            "Wir haben vorher mehrere Marken verglichen.",
            "Antes comparamos varias marcas.",
            "Сначала мы сравнили несколько брендов.",
            "我们先比较了几个品牌。",
            "قارنا عدة علامات تجارية أولا.",
        ),
        (
            "The box arrived on Monday.",
            "Das Paket kam am Montag an.",
            "El paquete llegó el lunes.",
            "Посылка пришла в понедельник.",
            "包裹周一到的。",
            "وصل الطرد يوم الاثنين.",
        ),
    ],
    "restaurant": [
        (
            "We had dinner here on Friday.",
            "Wir waren am Freitag zum Abendessen hier.",
            "Cenamos aquí el viernes.",
            "Мы ужинали здесь в пятницу.",
            "我们周五在这里吃了晚饭。",
            "تناولنا العشاء هنا يوم الجمعة.",
        ),
        (
            "We came for lunch with colleagues.",
            "Wir waren mit Kollegen zum Mittagessen hier.",
            "Vinimos a comer con unos compañeros.",
            "Мы пришли на обед с коллегами.",
            "我们和同事来这里吃午饭。",
            "جئنا لتناول الغداء مع زملائنا.",
        ),
        (
            "We booked a table for four.",
            "Wir hatten einen Tisch für vier reserviert.",
            "Reservamos una mesa para cuatro.",
            "Мы забронировали столик на четверых.",
            "我们订了一张四人桌。",
            "حجزنا طاولة لأربعة أشخاص.",
        ),
        (
            "It was my sister's birthday.",
            "Es war der Geburtstag meiner Schwester.",
            "Era el cumpleaños de mi hermana.",
            "Это был день рождения моей сестры.",
            "那天是我姐姐的生日。",
            "كان عيد ميلاد أختي.",
        ),
        (
            "The place was full on Saturday night.",
            "Am Samstagabend war es voll.",
            "El sábado por la noche estaba lleno.",
            "В субботу вечером был полный зал.",
            "周六晚上这里坐满了人。",
            "كان المكان ممتلئا مساء السبت.",
        ),
        (
            "We sat on the terrace.",
            "Wir saßen auf der Terrasse.",
            "Nos sentamos en la terraza.",
            "Мы сидели на террасе.",
            "我们坐在露台上。",
            "جلسنا في الشرفة.",
        ),
    ],
    "film": [
        (
            "We went to the cinema on Sunday.",
            "Wir waren am Sonntag im Kino.",
            "Fuimos al cine el domingo.",
            "В воскресенье мы ходили в кино.",
            "我们周日去了电影院。",
            "ذهبنا إلى السينما يوم الأحد.",
        ),
        (
            "It was a family movie night.",
            "Es war ein Filmabend mit der Familie.",
            "Fue una noche de cine en familia.",
            "Это был семейный киновечер.",
            "这是一次家庭电影之夜。",
            "كانت ليلة أفلام عائلية.",
        ),
        (
            "We read the reviews first.",
            "Wir haben vorher die Kritiken gelesen.",
            "Antes leímos las críticas.",
            "Сначала мы прочитали рецензии.",
            "我们事先看了影评。",
            "قرأنا المراجعات أولا.",
        ),
        (
            "The running time is two hours.",
            "Die Laufzeit beträgt zwei Stunden.",
            "Dura dos horas.",
            "Длительность — два часа.",
            "片长两个小时。",
            "مدة العرض ساعتان.",
        ),
        (
            "The cinema was almost empty.",
            "Das Kino war fast leer.",
            "El cine estaba casi vacío.",
            "Зал был почти пустой.",
            "电影院里几乎没人。",
            "كانت القاعة شبه فارغة.",
        ),
        (
            "A friend gave us the tickets.",
            "Ein Freund hat uns die Karten geschenkt.",
            "Un amigo nos regaló las entradas.",
            "Билеты нам подарил друг.",
            "票是朋友送的。",
            "أهدانا صديق التذاكر.",
        ),
    ],
}

# Sentence templates: the features they need, then one template per language.
# {the}/{The}/{this}/{This}: the reviewed thing (sentence-initial = capital);
# {the2}...: a second noun (an aspect of a product); {adj}/{adj2}: adjectives of
# the label's polarity; {adj_opp2}: the opposite polarity, for the second noun;
# {neg}: a negated adjective; {verdict}, {opener}: whole sentences.
SENT_TEMPLATES = [
    (
        "adj",
        (
            "{The} is {adj}.",
            "{The} ist {adj}.",
            "{The} es {adj}.",
            "{The} {adj}.",
            "{this}{adj}。",
            "{the} {adj}.",
        ),
    ),
    (
        "adj",
        (
            "Honestly, {the} is {adj}.",
            "Ehrlich gesagt ist {the} {adj}.",
            "Sinceramente, {the} es {adj}.",
            "Честно говоря, {the} {adj}.",
            "说实话，{this}{adj}。",
            "بصراحة، {the} {adj}.",
        ),
    ),
    (
        "adj",
        (
            "I think {the} is {adj}.",
            "Ich finde, {the} ist {adj}.",
            "Creo que {the} es {adj}.",
            "По-моему, {the} {adj}.",
            "我觉得{this}{adj}。",
            "أعتقد أن {the} {adj}.",
        ),
    ),
    (
        "adj",
        (
            "{This} is really {adj}.",
            "{This} ist wirklich {adj}.",
            "{This} es realmente {adj}.",
            "{This} просто {adj}.",
            "{this}真的{adj}。",
            "حقا، {this} {adj}.",
        ),
    ),
    (
        "adj",
        (
            "Overall, {the} is {adj}.",
            "Insgesamt ist {the} {adj}.",
            "En general, {the} es {adj}.",
            "В целом {the} {adj}.",
            "总的来说，{this}{adj}。",
            "بشكل عام، {the} {adj}.",
        ),
    ),
    (
        "adj",
        (
            "Simply put, {the} is {adj}.",
            "Kurz gesagt: {The} ist {adj}.",
            "En pocas palabras, {the} es {adj}.",
            "Короче говоря, {the} {adj}.",
            "简单地说，{this}{adj}。",
            "باختصار، {the} {adj}.",
        ),
    ),
    (
        "adj",
        (
            "My friends also think {the} is {adj}.",
            "Auch meine Freunde finden, dass {the} {adj} ist.",
            "Mis amigos también creen que {the} es {adj}.",
            "Друзья тоже считают, что {the} {adj}.",
            "朋友们也觉得{this}{adj}。",
            "أصدقائي أيضا يرون أن {the} {adj}.",
        ),
    ),
    (
        "adj",
        (
            "Believe me, {the} is {adj}.",
            "Glaubt mir, {the} ist {adj}.",
            "Créanme, {the} es {adj}.",
            "Поверьте, {the} {adj}.",
            "相信我，{this}{adj}。",
            "صدقوني، {the} {adj}.",
        ),
    ),
    (
        "adj opener",
        (
            "{opener} {The} is {adj}.",
            "{opener} {The} ist {adj}.",
            "{opener} {The} es {adj}.",
            "{opener} {The} {adj}.",
            "{opener}{this}{adj}。",
            "{opener} {the} {adj}.",
        ),
    ),
    (
        "adj verdict",
        (
            "{The} is {adj}. {verdict}",
            "{The} ist {adj}. {verdict}",
            "{The} es {adj}. {verdict}",
            "{The} {adj}. {verdict}",
            "{this}{adj}。{verdict}",
            "{the} {adj}. {verdict}",
        ),
    ),
    (
        "adj verdict",
        (
            "{verdict} {The} is {adj}.",
            "{verdict} {The} ist {adj}.",
            "{verdict} {The} es {adj}.",
            "{verdict} {The} {adj}.",
            "{verdict}{this}{adj}。",
            "{verdict} {the} {adj}.",
        ),
    ),
    (
        "adj verdict",
        (
            "{This} is {adj}! {verdict}",
            "{This} ist {adj}! {verdict}",
            "¡{This} es {adj}! {verdict}",
            "{This} {adj}! {verdict}",
            "{this}{adj}！{verdict}",
            "{this} {adj}! {verdict}",
        ),
    ),
    (
        "adj noun2",
        (
            "{The} is {adj} and {the2} is {adj2}.",
            "{The} ist {adj} und {the2} ist {adj2}.",
            "{The} es {adj} y {the2} es {adj2}.",
            "{The} {adj}, и {the2} {adj2}.",
            "{this}{adj}，{this2}也{adj2}。",
            "{the} {adj} و{the2} {adj2}.",
        ),
    ),
    (
        "adj noun2 contrast verdict",
        (
            "{The2} is {adj_opp2}, but {the} is {adj}. {verdict}",
            "{The2} ist {adj_opp2}, aber {the} ist {adj}. {verdict}",
            "{The2} es {adj_opp2}, pero {the} es {adj}. {verdict}",
            "{The2} {adj_opp2}, но {the} {adj}. {verdict}",
            "{this2}{adj_opp2}，但{this}{adj}。{verdict}",
            "{the2} {adj_opp2}، لكن {the} {adj}. {verdict}",
        ),
    ),
    (
        "opener verdict",
        (
            "{opener} {verdict}",
            "{opener} {verdict}",
            "{opener} {verdict}",
            "{opener} {verdict}",
            "{opener}{verdict}",
            "{opener} {verdict}",
        ),
    ),
    (
        "verdict verdict2",
        (
            "{verdict} {verdict2}",
            "{verdict} {verdict2}",
            "{verdict} {verdict2}",
            "{verdict} {verdict2}",
            "{verdict}{verdict2}",
            "{verdict} {verdict2}",
        ),
    ),
    (
        "negation",
        (
            "{The} is not {neg} at all.",
            "{The} ist überhaupt nicht {neg}.",
            "{The} no es nada {neg}.",
            "{The} совсем не {neg}.",
            "{this}{neg}。",
            "{the} [ليس|ليست:n] {neg} على الإطلاق.",
        ),
    ),
    (
        "negation opener",
        (
            "{opener} {The} is not {neg} at all.",
            "{opener} {The} ist überhaupt nicht {neg}.",
            "{opener} {The} no es nada {neg}.",
            "{opener} {The} совсем не {neg}.",
            "{opener}{this}{neg}。",
            "{opener} {the} [ليس|ليست:n] {neg} على الإطلاق.",
        ),
    ),
    (
        "adj opener verdict",
        (
            "{opener} {The} is {adj}. {verdict}",
            "{opener} {The} ist {adj}. {verdict}",
            "{opener} {The} es {adj}. {verdict}",
            "{opener} {The} {adj}. {verdict}",
            "{opener}{this}{adj}。{verdict}",
            "{opener} {the} {adj}. {verdict}",
        ),
    ),
]
# Opinion-free text: only used together with a (correct) rating or emoji, as
# in reviews whose text says nothing and whose stars say everything.
NEUTRAL_TEMPLATES = [
    (
        "opener",
        ("{opener}", "{opener}", "{opener}", "{opener}", "{opener}", "{opener}"),
    ),
    (
        "opener opener2",
        (
            "{opener} {opener2}",
            "{opener} {opener2}",
            "{opener} {opener2}",
            "{opener} {opener2}",
            "{opener}{opener2}",
            "{opener} {opener2}",
        ),
    ),
]

# Language-independent cues, as real reviews carry them. The emoji are chosen
# with the byte-level model in mind: an emoji's last UTF-8 bytes are shared
# with many Chinese, Arabic or Cyrillic characters (U+1F600 ends in the same
# byte as "。"; U+1F44D in the same byte as "不"), and a model trained on English
# learns those single bytes as label evidence, which biases it on other
# scripts. These emoji end in bytes that are rare in the six test languages.
CUES = {
    "positive": [
        "★★★★★",
        "★★★★☆",
        "5/5",
        "4/5",
        "10/10",
        "9/10",
        ":)",
        ":-)",
        ":D",
        "😍",
        "😎",
        "💖",
    ],
    "negative": [
        "★☆☆☆☆",
        "★★☆☆☆",
        "1/5",
        "2/5",
        "1/10",
        "2/10",
        ":(",
        ":-(",
        "😠",
        "😢",
        "😫",
    ],
    "mixed": ["★★★☆☆", "3/5", "5/10", "😐"],
}
CUE_RATE = 0.36  # share of reviews that carry a cue
NOISY_CUE_RATE = 0.10  # of those: a mid or opposite rating (sarcasm, mistakes)
# Of the cued reviews, half have opinion-free text (and a correct cue): the
# model must learn
# the cues themselves, or zero-shot languages (whose words it cannot read) get
# nothing from them.
NEUTRAL_TEXT_RATE = 0.5


def opposite(label: str) -> str:
    return "positive" if label == "negative" else "negative"


# Definite article and demonstrative by gender, for languages that inflect.
ARTICLES = {
    "de": (
        {"m": "der", "f": "die", "n": "das"},
        {"m": "dieser", "f": "diese", "n": "dieses"},
    ),
    "es": ({"m": "el", "f": "la"}, {"m": "este", "f": "esta"}),
    "ru": ({"m": "", "f": "", "n": ""}, {"m": "этот", "f": "эта", "n": "это"}),
    "ar": ({"m": "", "f": ""}, {"m": "هذا", "f": "هذه"}),
}


def noun_slots(lang: str, noun: tuple, suffix: str = "") -> tuple[dict, str]:
    """Slot values for the reviewed thing, and its gender in `lang`."""
    forms = dict(zip(LANGS, noun[1:], strict=True))
    if lang == "en":
        the, this, gender = f"the {forms['en']}", f"this {forms['en']}", "m"
    elif lang == "zh":
        the = this = forms["zh"]
        gender = "m"
    else:
        gender, word = forms[lang].split(" ", 1)
        article, demonstrative = ARTICLES[lang]
        the = f"{article[gender]} {word}".strip()
        this = f"{demonstrative[gender]} {word}"
    slots = {
        f"the{suffix}": the,
        f"The{suffix}": cap(the),
        f"this{suffix}": this,
        f"This{suffix}": cap(this),
    }
    return slots, gender


def adj_form(lang: str, entry: tuple, gender: str) -> str:
    """The form of an adjective row that agrees with a noun of `gender`."""
    form = dict(zip(LANGS, entry[2:], strict=True))[lang]
    forms = form.split("|")
    if lang == "es" or lang == "ar":
        return forms[gender == "f"]
    if lang == "ru":
        return forms["mfn".index(gender)]
    return form


def fits_kind(entry: tuple, noun: tuple) -> bool:
    return not entry[1] or noun[0] in entry[1].split()


def make_sentiment(rng: random.Random, label: str) -> dict[str, dict] | None:
    domain = rng.choice(DOMAINS)
    cue = None
    neutral_text = False
    if rng.random() < CUE_RATE:
        r = rng.random()
        if r < NOISY_CUE_RATE:
            cue = rng.choice(CUES["mixed"] + CUES[opposite(label)])
        else:
            cue = rng.choice(CUES[label])
            neutral_text = r < NOISY_CUE_RATE + NEUTRAL_TEXT_RATE
    features, templates = rng.choice(
        NEUTRAL_TEMPLATES if neutral_text else SENT_TEMPLATES
    )
    features = features.split()
    cue_first = rng.random() < 0.2

    noun = rng.choice(NOUNS[domain])
    seconds = SECOND_NOUNS[domain]
    noun2 = rng.choice([n for n in seconds if n is not noun])
    adj = rng.choice([a for a in ADJECTIVES if a[0] == label and fits_kind(a, noun)])
    adjs2 = [a for a in ADJECTIVES if a[0] == label and fits_kind(a, noun2)]
    adj2 = rng.choice([a for a in adjs2 if a is not adj] or adjs2)
    opp2 = rng.choice(
        [a for a in ADJECTIVES if a[0] == opposite(label) and fits_kind(a, noun2)]
    )
    neg = rng.choice([a for a in NEGATABLE if a[0] == label and fits_kind(a, noun)])
    verdicts = VERDICTS[(label, "")] + VERDICTS[(label, domain)]
    verdict, verdict2 = rng.sample(verdicts, 2)
    opener, opener2 = rng.sample(OPENERS[domain], 2)

    item = {}
    for i, lang in enumerate(LANGS):
        slots, gender = noun_slots(lang, noun)
        slots2, gender2 = noun_slots(lang, noun2, "2")
        slots.update(slots2)
        slots.update(
            {
                "adj": adj_form(lang, adj, gender),
                "adj2": adj_form(lang, adj2, gender2),
                "adj_opp2": adj_form(lang, opp2, gender2),
                "neg": adj_form(lang, neg, gender),
                "verdict": verdict[i],
                "verdict2": verdict2[i],
                "opener": opener[i],
                "opener2": opener2[i],
            }
        )
        text = fill(templates[i], slots, {"n": gender})
        if cue:
            sep = "" if lang == "zh" else " "
            text = f"{cue}{sep}{text}" if cue_first else f"{text}{sep}{cue}"
        if not fits(lang, text):
            return None
        item[lang] = {"text": text, "label": label}
    return item


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

TASKS = [
    # name, item maker, labels, languages, seed offset
    ("demo-topic", make_topic, TOPIC_LABELS, ("en",), 1),
    ("demo-sentiment", make_sentiment, SENT_LABELS, LANGS, 3),
]


def main() -> None:
    for name, make, labels, langs, offset in TASKS:
        # One generator per task: editing one task leaves the others unchanged.
        rng = random.Random(SEED * 10 + offset)
        files = build_task(rng, make, labels, plan_for(langs))
        write_task(name, files)
    total = sum(f.stat().st_size for f in OUT_DIR.rglob("*.jsonl"))
    print(f"total: {total / 1024:.0f} KiB in {OUT_DIR}")


if __name__ == "__main__":
    main()
