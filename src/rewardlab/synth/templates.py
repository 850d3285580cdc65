"""Problem templates of the embedded world: each builds a question and its gold computation.

A builder takes ``(rng, n_steps, max_number, max_value)`` and returns ``(question, ops)`` with exactly
``n_steps`` ops, or None when it cannot fit that many steps (the caller then tries another draw). Three
structures, each in several domains so the wording varies:

- ``chain``: a running quantity changed by events (gain, lose, multiply, share out, buy packs, give packs);
- ``shopping``: costs (distances, outputs) of several parts, their total, and what is left of a budget;
- ``group``: people whose counts are defined relative to one another, then one count, a difference or
  the total.
"""

from __future__ import annotations

import random

from rewardlab.synth.world import Op, Operand, Ref

NAMES = [("Tom", "He"), ("Anna", "She"), ("Ben", "He"), ("Maria", "She"), ("Sam", "He"), ("Lily", "She"),
         ("Omar", "He"), ("Nina", "She"), ("Leo", "He"), ("Emma", "She"), ("Ravi", "He"), ("Zoe", "She"),
         ("Jack", "He"), ("Mia", "She"), ("Luis", "He"), ("Sara", "She")]

# chain events: (sentence, step phrase); {n} name, {P} pronoun, {i} item, {b} number, {k} factor.
CHAIN_DOMAINS = {
    "fruit": {"items": ["apples", "oranges", "pears", "plums"],
              "add": [("{P} picks {b} more {i}.", "After picking"), ("{P} gets {b} {i} from a neighbour.",
                                                                     "After the gift")],
              "sub": [("{P} eats {b} {i}.", "After eating"), ("{P} sells {b} {i}.", "After selling")],
              "pack_add": ("{P} buys {k} bags with {b} {i} in each.", "In the bags", "After buying"),
              "pack_sub": ("{P} gives {k} friends {b} {i} each.", "Given to friends", "After giving")},
    "collection": {"items": ["marbles", "stickers", "cards", "stamps"],
                   "add": [("{P} wins {b} {i}.", "After winning"), ("{P} finds {b} {i}.", "After finding")],
                   "sub": [("{P} loses {b} {i}.", "After losing"), ("{P} trades away {b} {i}.",
                                                                    "After trading")],
                   "pack_add": ("{P} buys {k} packs of {b} {i}.", "In the packs", "After buying"),
                   "pack_sub": ("{P} gives {k} cousins {b} {i} each.", "Given to cousins", "After giving")},
    "bakery": {"items": ["cookies", "muffins", "cupcakes", "rolls"],
               "add": [("{P} bakes {b} more {i}.", "After baking")],
               "sub": [("{P} sells {b} {i}.", "After selling"), ("{P} drops {b} {i}.", "After dropping")],
               "pack_add": ("{P} bakes {k} trays of {b} {i}.", "On the trays", "After baking"),
               "pack_sub": ("{P} fills {k} boxes with {b} {i} each.", "In the boxes", "After boxing")},
    "money": {"items": ["dollars"],
              "add": [("{P} earns {b} {i}.", "After earning"), ("{P} is given {b} {i}.", "After the gift")],
              "sub": [("{P} spends {b} {i}.", "After spending"), ("{P} pays a bill of {b} {i}.",
                                                                 "After the bill")],
              "pack_add": ("{P} saves {b} {i} a week for {k} weeks.", "Saved", "After saving"),
              "pack_sub": ("{P} buys {k} tickets at {b} {i} each.", "Tickets cost", "After the tickets")},
}
CHAIN_SHARED = {
    "mul": ("Then {n} ends up with {k} times as many {i}.", "Times {k}"),
    "div": ("{P} splits the {i} equally into {k} groups and keeps one group.", "One group"),
}

SHOPPING_DOMAINS = {
    "shop": {"part": "{n} buys {k} {t} at {b} dollars each.", "step": "Cost of {t}",
             "things": ["pens", "books", "cups", "shirts", "toys", "plates", "hats"],
             "sum": ("Cost so far", "Total cost"), "budget": "{P} pays with {B} dollars.", "left": "Change",
             "ask_total": "How many dollars does {n} spend?", "ask_left": "How much change does {n} get?"},
    "trip": {"part": "{n} drives {k} hours at {b} km per hour on the {t} road.", "step": "Distance on {t}",
             "things": ["north", "south", "east", "west", "coast", "river", "hill"],
             "sum": ("Distance so far", "Total distance"), "budget": "The whole trip is {B} km.",
             "left": "Distance left", "ask_total": "How many km does {n} drive?",
             "ask_left": "How many km are left?"},
    "factory": {"part": "Machine {t} makes {b} toys an hour for {k} hours.", "step": "Made by machine {t}",
                "things": ["A", "B", "C", "D", "E", "F"], "sum": ("Made so far", "Total made"),
                "budget": "The order is for {B} toys.", "left": "Toys still needed",
                "ask_total": "How many toys do the machines make?",
                "ask_left": "How many more toys are needed for the order?"},
}
GROUP_ITEMS = ["marbles", "shells", "coins", "books", "stickers", "pencils"]


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(NAMES)


def build_chain(rng: random.Random, n_steps: int, max_number: int, max_value: int):
    """A running quantity and ``n_steps`` steps of events on it."""
    domain = CHAIN_DOMAINS[rng.choice(list(CHAIN_DOMAINS))]
    name, pronoun = _person(rng)
    item = rng.choice(domain["items"])
    fmt = {"n": name, "P": pronoun, "i": item}
    value = rng.randint(5, max_number)
    current: Operand = value
    sentences, ops = [f"{name} has {value} {item}."], []
    while len(ops) < n_steps:
        remaining = n_steps - len(ops)
        kind = rng.choice(["add", "sub", "pack_add", "pack_sub", "mul", "div"] if remaining >= 2
                          else ["add", "sub", "mul", "div"])
        event = _chain_event(rng, kind, value, max_number, max_value)
        if event is None:
            continue
        b, k = event
        if kind in ("add", "sub"):
            sentence, phrase = rng.choice(domain[kind])
            sentences.append(sentence.format(b=b, **fmt))
            ops.append(Op(phrase, current, "+" if kind == "add" else "-", b))
            value = value + b if kind == "add" else value - b
        elif kind in ("mul", "div"):
            sentence, phrase = CHAIN_SHARED[kind]
            sentences.append(sentence.format(k=k, **fmt))
            ops.append(Op(phrase.format(k=k), current, "*" if kind == "mul" else "/", k))
            value = value * k if kind == "mul" else value // k
        else:
            sentence, phrase_pack, phrase_after = domain[kind]
            sentences.append(sentence.format(k=k, b=b, **fmt))
            ops.append(Op(phrase_pack, k, "*", b))
            ops.append(Op(phrase_after, current, "+" if kind == "pack_add" else "-", Ref(len(ops) - 1)))
            value = value + k * b if kind == "pack_add" else value - k * b
        current = Ref(len(ops) - 1)
    sentences.append(f"How many {item} does {name} have now?")
    return " ".join(sentences), ops


def _chain_event(rng: random.Random, kind: str, value: int, max_number: int, max_value: int):
    """(b, k) for an event that keeps the quantity in (0, max_value], or None when it cannot."""
    if kind == "add":
        b = rng.randint(2, max_number)
        return (b, 0) if value + b <= max_value else None
    if kind == "sub":
        return (rng.randint(1, value - 1), 0) if value > 2 else None
    if kind == "mul":
        k = rng.randint(2, 4)
        return (0, k) if value * k <= max_value else None
    if kind == "div":
        divisors = [d for d in range(2, 10) if value % d == 0 and value // d > 1]
        return (0, rng.choice(divisors)) if divisors else None
    k, b = rng.randint(2, 6), rng.randint(2, max(2, max_number // 2))
    if kind == "pack_add":
        return (b, k) if value + k * b <= max_value else None
    return (b, k) if k * b < value else None


def build_shopping(rng: random.Random, n_steps: int, max_number: int, max_value: int):
    """Several parts ``k * b``, their running total, and (even ``n_steps``) what is left of a budget."""
    domain = SHOPPING_DOMAINS[rng.choice(list(SHOPPING_DOMAINS))]
    name, pronoun = _person(rng)
    with_budget = n_steps % 2 == 0
    n_parts = n_steps // 2 if with_budget else (n_steps + 1) // 2
    things = rng.sample(domain["things"], n_parts)
    sentences, ops = [], []
    for thing in things:
        k, b = rng.randint(2, 9), rng.randint(2, max_number)
        sentences.append(domain["part"].format(n=name, P=pronoun, k=k, b=b, t=thing))
        ops.append(Op(domain["step"].format(t=thing), k, "*", b))
    total: Operand = Ref(0)
    for j in range(1, n_parts):
        last_sum = j == n_parts - 1
        ops.append(Op(domain["sum"][1 if last_sum else 0], total, "+", Ref(j)))
        total = Ref(len(ops) - 1)
    if with_budget:
        spent = sum(op.left * op.right for op in ops[:n_parts])
        budget = spent + rng.randint(1, max_number)
        sentences.append(domain["budget"].format(P=pronoun, B=budget))
        ops.append(Op(domain["left"], budget, "-", total))
        sentences.append(domain["ask_left"].format(n=name))
    else:
        sentences.append(domain["ask_total"].format(n=name))
    return " ".join(sentences), ops


def build_group(rng: random.Random, n_steps: int, max_number: int, max_value: int):
    """People defined relative to earlier people; ask one count, a difference, or the total."""
    variants = [v for v, m in (("one", n_steps + 1), ("diff", n_steps), ("total", n_steps // 2 + 1))
                if 2 <= m <= 6 and (v != "total" or n_steps % 2 == 0)]
    if not variants:
        return None
    variant = rng.choice(variants)
    people = {"one": n_steps + 1, "diff": n_steps, "total": n_steps // 2 + 1}[variant]
    names = [n for n, _ in rng.sample(NAMES, people)]
    item = rng.choice(GROUP_ITEMS)
    first = rng.randint(5, max_number)
    holders: list[Operand] = [first]
    values = [first]
    sentences, ops = [f"{names[0]} has {first} {item}."], []
    for p in range(1, people):
        ref = rng.randrange(p)
        relation = _relation(rng, values[ref], max_number, max_value)
        if relation is None:
            return None
        sym, number, words = relation
        sentences.append(f"{names[p]} has {words.format(i=item)} {names[ref]}.")
        ops.append(Op(f"{names[p]} has", holders[ref], sym, number))
        values.append({"+": values[ref] + number, "-": values[ref] - number, "*": values[ref] * number,
                       "/": values[ref] // number}[sym])
        holders.append(Ref(len(ops) - 1))
    if variant == "one":
        sentences.append(f"How many {item} does {names[-1]} have?")
    elif variant == "diff":
        hi, lo = max(range(people), key=values.__getitem__), min(range(people), key=values.__getitem__)
        if values[hi] == values[lo]:
            return None
        sentences.append(f"How many more {item} does {names[hi]} have than {names[lo]}?")
        ops.append(Op("Difference", holders[hi], "-", holders[lo]))
    else:
        total = holders[0]
        for p in range(1, people):
            ops.append(Op("All together" if p == people - 1 else "Together so far", total, "+", holders[p]))
            total = Ref(len(ops) - 1)
        sentences.append(f"How many {item} do they have together?")
    return " ".join(sentences), ops


def _relation(rng: random.Random, base: int, max_number: int, max_value: int):
    """(sym, number, words) defining a new count from ``base``, kept in (0, max_value]."""
    options = ["more", "times"]
    if base > 2:
        options.append("fewer")
    if base % 2 == 0 and base >= 4:
        options.append("half")
    choice = rng.choice(options)
    if choice == "more":
        b = rng.randint(2, max_number)
        return ("+", b, f"{b} more {{i}} than") if base + b <= max_value else None
    if choice == "fewer":
        b = rng.randint(1, base - 1)
        return ("-", b, f"{b} fewer {{i}} than")
    if choice == "half":
        return ("/", 2, "half as many {i} as")
    k = rng.randint(2, 4)
    return ("*", k, f"{k} times as many {{i}} as") if base * k <= max_value else None


BUILDERS = {"chain": build_chain, "shopping": build_shopping, "group": build_group}
TEMPLATE_NAMES = list(BUILDERS)


def build(name: str, rng: random.Random, n_steps: int, max_number: int, max_value: int):
    return BUILDERS[name](rng, n_steps, max_number, max_value)
