"""Generate the two question/answer-sentence demo tasks in engine/tasks/demo_data/.

Both ask "does sentence B answer question A?" (labels "no" / "yes", balanced):

* demo-trivia-qa  English intermediate task about landmarks (who built it, when
                  it was finished, where it stands, how many rooms it has).
* demo-xqa        target task about companies (who founded it, when, where it
                  is based, how many shops it has): train and validation in
                  English, test in en, de, es, ru, zh, ar; the six test sets
                  are translations of the same items, with the same labels.

A negative pair answers another question type about the same subject. Why this
design: the demo model is a tiny byte-level encoder trained from random weights
on a CPU; matching a question word to the kind of answer (a name, a 4-digit
year, a city, a count) is learnable by it in a few hundred steps, while
PAWS-style pairs (swapped entities) proved not to be. Names are Latin script,
years and counts Western digits in every language: the only cues shared
across languages, so zero-shot scores land near chance outside English unless
those cues carry over, as with real data and a model without multilingual
pretraining.

Deterministic: standard library only, fixed seed. Run from anywhere:
``python scripts/generate_demo_xqa.py``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 7
OUT = Path(__file__).resolve().parent.parent / "engine" / "tasks" / "demo_data"
LANGS = ("en", "de", "es", "ru", "zh", "ar")
TYPES = ("who", "when", "where", "count")

PEOPLE = [
    "Maria Rossi",
    "John Miller",
    "Anna Novak",
    "Peter Berg",
    "Laura Costa",
    "David Klein",
    "Sofia Lind",
    "Martin Weber",
    "Elena Ruiz",
    "Paul Meyer",
    "Nina Hartmann",
    "Omar Haddad",
    "Yuki Tanaka",
    "Lena Fischer",
]
CITIES = [
    "Berlin",
    "Madrid",
    "Tokyo",
    "Cairo",
    "Lima",
    "Oslo",
    "Rome",
    "Seoul",
    "Paris",
    "Quito",
    "Vienna",
    "Lisbon",
    "Dublin",
    "Prague",
]

# --- intermediate: English landmarks ---------------------------------------
LANDMARKS = [
    "the old bridge",
    "the city museum",
    "the north tower",
    "the central library",
    "the harbour lighthouse",
    "the royal theatre",
    "the glass palace",
    "the stone abbey",
    "the river mill",
    "the grand hotel",
]
TRIVIA_Q = {
    "who": ["Who built {s}?", "Who designed {s}?", "Which architect planned {s}?"],
    "when": [
        "When was {s} finished?",
        "In which year was {s} completed?",
        "When did {s} open?",
    ],
    "where": [
        "Where is {s}?",
        "In which city does {s} stand?",
        "Where can you visit {s}?",
    ],
    "count": [
        "How many rooms does {s} have?",
        "How many rooms are in {s}?",
        "What number of rooms has {s}?",
    ],
}
TRIVIA_A = {
    "who": [
        "{S} was built by {who}.",
        "{who} designed {s}.",
        "The architect of {s} was {who}.",
    ],
    "when": [
        "{S} was finished in {when}.",
        "{S} opened in {when}.",
        "Work on {s} ended in {when}.",
    ],
    "where": [
        "{S} stands in {where}.",
        "{S} is in the centre of {where}.",
        "You can visit {s} in {where}.",
    ],
    "count": [
        "{S} has {count} rooms.",
        "There are {count} rooms in {s}.",
        "{S} counts {count} rooms.",
    ],
}

# --- target: companies, in six languages -----------------------------------
COMPANIES = [
    "Nordwind",
    "Lumora",
    "Veltra",
    "Kestrel",
    "Orvio",
    "Brightline",
    "Solenne",
    "Tavira",
    "Quellio",
    "Marrow & Co",
    "Zentra",
    "Aldor",
    "Pinecrest",
    "Vantor",
    "Coralis",
    "Helix Foods",
]
XQA_Q = {
    "en": {
        "who": ["Who founded {c}?", "Who started the company {c}?"],
        "when": ["When was {c} founded?", "In which year was {c} set up?"],
        "where": ["Where is {c} based?", "In which city is {c} located?"],
        "count": ["How many shops does {c} have?", "How many stores does {c} run?"],
    },
    "de": {
        "who": ["Wer hat {c} gegründet?", "Wer gründete die Firma {c}?"],
        "when": ["Wann wurde {c} gegründet?", "In welchem Jahr entstand {c}?"],
        "where": ["Wo hat {c} seinen Sitz?", "In welcher Stadt ist {c}?"],
        "count": ["Wie viele Läden hat {c}?", "Wie viele Filialen betreibt {c}?"],
    },
    "es": {
        "who": ["¿Quién fundó {c}?", "¿Quién creó la empresa {c}?"],
        "when": ["¿Cuándo se fundó {c}?", "¿En qué año nació {c}?"],
        "where": ["¿Dónde tiene su sede {c}?", "¿En qué ciudad está {c}?"],
        "count": ["¿Cuántas tiendas tiene {c}?", "¿Cuántas sucursales tiene {c}?"],
    },
    "ru": {
        "who": ["Кто основал {c}?", "Кто создал компанию {c}?"],
        "when": ["Когда была основана {c}?", "В каком году появилась {c}?"],
        "where": ["Где находится {c}?", "В каком городе работает {c}?"],
        "count": ["Сколько магазинов у {c}?", "Сколько филиалов у {c}?"],
    },
    "zh": {
        "who": ["谁创办了{c}？", "{c}公司的创始人是谁？"],
        "when": ["{c}是哪一年成立的？", "{c}成立于何时？"],
        "where": ["{c}的总部在哪里？", "{c}位于哪个城市？"],
        "count": ["{c}有多少家商店？", "{c}开了几家门店？"],
    },
    "ar": {
        "who": ["من أسس {c}؟", "من أنشأ شركة {c}؟"],
        "when": ["متى تأسست {c}؟", "في أي عام أنشئت {c}؟"],
        "where": ["أين يقع مقر {c}؟", "في أي مدينة توجد {c}؟"],
        "count": ["كم متجرا لدى {c}؟", "كم فرعا تملك {c}؟"],
    },
}
XQA_A = {
    "en": {
        "who": ["{c} was founded by {who}.", "{who} started {c}."],
        "when": ["{c} was founded in {when}.", "{c} has existed since {when}."],
        "where": ["{c} is based in {where}.", "The head office of {c} is in {where}."],
        "count": ["{c} has {count} shops.", "{c} runs {count} stores."],
    },
    "de": {
        "who": ["{c} wurde von {who} gegründet.", "{who} gründete {c}."],
        "when": ["{c} wurde {when} gegründet.", "{c} gibt es seit {when}."],
        "where": [
            "{c} hat seinen Sitz in {where}.",
            "Die Zentrale von {c} liegt in {where}.",
        ],
        "count": ["{c} hat {count} Läden.", "{c} betreibt {count} Filialen."],
    },
    "es": {
        "who": ["{c} fue fundada por {who}.", "{who} creó {c}."],
        "when": ["{c} se fundó en {when}.", "{c} existe desde {when}."],
        "where": [
            "{c} tiene su sede en {where}.",
            "La oficina central de {c} está en {where}.",
        ],
        "count": ["{c} tiene {count} tiendas.", "{c} gestiona {count} sucursales."],
    },
    "ru": {
        "who": ["{c} основал {who}.", "Компанию {c} создал {who}."],
        "when": ["{c} основана в {when} году.", "{c} работает с {when} года."],
        "where": [
            "{c} находится в городе {where}.",
            "Офис {c} расположен в городе {where}.",
        ],
        "count": ["У {c} {count} магазинов.", "{c} управляет {count} филиалами."],
    },
    "zh": {
        "who": ["{c}由{who}创办。", "{who}创立了{c}。"],
        "when": ["{c}成立于{when}年。", "{c}从{when}年开始营业。"],
        "where": ["{c}的总部在{where}。", "{c}位于{where}。"],
        "count": ["{c}有{count}家商店。", "{c}经营着{count}家门店。"],
    },
    "ar": {
        "who": ["أسس {who} شركة {c}.", "أنشأ {who} شركة {c}."],
        "when": ["تأسست {c} عام {when}.", "تعمل {c} منذ عام {when}."],
        "where": ["يقع مقر {c} في {where}.", "مكتب {c} الرئيسي في {where}."],
        "count": ["لدى {c} {count} متجرا.", "تملك {c} {count} فرعا."],
    },
}


def facts(rng: random.Random) -> dict[str, str]:
    return {
        "who": rng.choice(PEOPLE),
        "when": str(rng.randint(1850, 2020)),
        "where": rng.choice(CITIES),
        "count": str(rng.randint(2, 900)),
    }


def pick_type(rng: random.Random, label: str, qtype: str) -> str:
    # A negative answers another question type about the same subject.
    return qtype if label == "yes" else rng.choice([t for t in TYPES if t != qtype])


def trivia_item(rng: random.Random, label: str) -> dict[str, dict]:
    subject = rng.choice(LANDMARKS)
    values = {**facts(rng), "s": subject, "S": subject[0].upper() + subject[1:]}
    qtype = rng.choice(TYPES)
    atype = pick_type(rng, label, qtype)
    question = rng.choice(TRIVIA_Q[qtype]).format(**values)
    answer = rng.choice(TRIVIA_A[atype]).format(**values)
    return {"en": {"text_a": question, "text_b": answer, "label": label}}


def xqa_item(rng: random.Random, label: str) -> dict[str, dict]:
    values = {**facts(rng), "c": rng.choice(COMPANIES)}
    qtype = rng.choice(TYPES)
    atype = pick_type(rng, label, qtype)
    qi, ai = rng.randrange(2), rng.randrange(2)  # same template in every language
    return {
        lang: {
            "text_a": XQA_Q[lang][qtype][qi].format(**values),
            "text_b": XQA_A[lang][atype][ai].format(**values),
            "label": label,
        }
        for lang in LANGS
    }


def build(rng, make, sizes: dict[str, int]) -> dict[str, list[dict[str, dict]]]:
    """Items per split, balanced labels, no pair shared between splits."""
    seen: set[tuple[str, str]] = set()
    out: dict[str, list[dict[str, dict]]] = {}
    for split, n in sizes.items():
        items = []
        while len(items) < n:
            item = make(rng, ("no", "yes")[len(items) % 2])
            key = (item["en"]["text_a"], item["en"]["text_b"])
            if key not in seen:
                seen.add(key)
                items.append(item)
        rng.shuffle(items)
        out[split] = items
    return out


def write(task: str, split: str, lang: str, items: list[dict[str, dict]]) -> None:
    folder = OUT / task
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{split}.{lang}.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item[lang], ensure_ascii=False) + "\n")
    yes = sum(item[lang]["label"] == "yes" for item in items)
    print(f"{path.relative_to(OUT)}: {len(items)} lines, {yes} yes")


def main() -> None:
    rng = random.Random(SEED)
    trivia = build(rng, trivia_item, {"train": 2000, "validation": 300})
    for split, items in trivia.items():
        write("demo-trivia-qa", split, "en", items)
    xqa = build(rng, xqa_item, {"train": 2000, "validation": 300, "test": 300})
    write("demo-xqa", "train", "en", xqa["train"])
    write("demo-xqa", "validation", "en", xqa["validation"])
    for lang in LANGS:
        write("demo-xqa", "test", lang, xqa["test"])


if __name__ == "__main__":
    main()
