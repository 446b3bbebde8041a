"""Hypothesis strategies for fuzzing what arrives from outside: MQTT topics and JSON payloads.

Shared by the kiosk's fuzz tests (every decoder in ``kiosk.contract.protocol``) and the fleet's (ingest
on a real store, then export). Payloads come three ways:

- *near misses*: a valid payload of each channel with a few values replaced by anything JSON
  can say (deep nesting, huge or tiny numbers, wrong types, NUL, lone surrogates, Turkish
  text) or a key repeated, so the fuzzer gets past the first check and into the corners;
- *JSON*: any JSON value, objects with duplicate keys included;
- *bytes*: anything at all, and valid payloads cut short or with bytes flipped.

In ``make test`` each fuzz test runs a bounded, derandomized number of examples (the same ones
every run, a few seconds in all). ``make fuzz`` sets ``NABIZ_FUZZ_EXAMPLES`` for a long,
random run: it keeps looking for the next input that gets through.
"""

from __future__ import annotations

import base64
import json
import os
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from kiosk.contract import assignment as assignments
from kiosk.contract import protocol as p


def fuzz_settings(examples: int) -> settings:
    """*examples* per test in ``make test``; ``NABIZ_FUZZ_EXAMPLES`` (``make fuzz``) many more, randomized."""
    long_run = os.environ.get("NABIZ_FUZZ_EXAMPLES")
    checks = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much]
    if long_run:
        return settings(max_examples=int(long_run), deadline=None, derandomize=False, suppress_health_check=checks, print_blob=True)
    return settings(max_examples=examples, deadline=None, derandomize=True, suppress_health_check=checks, database=None)


# --- JSON with the corners a parser meets: raw number texts, duplicate keys, any string ------------


@dataclass(frozen=True)
class Token:
    """JSON text put in as it is: a number as written (``1e400``, 400 nines), a literal."""

    text: str


@dataclass(frozen=True)
class Obj:
    """A JSON object as (key, value) pairs, so a key can come twice."""

    pairs: tuple[tuple[str, Any], ...]


def render(node: Any, ascii_only: bool = True) -> str:
    if isinstance(node, Token):
        return node.text
    if isinstance(node, Obj):
        return "{" + ",".join(f"{render(k, ascii_only)}:{render(v, ascii_only)}" for k, v in node.pairs) + "}"
    if isinstance(node, list):
        return "[" + ",".join(render(v, ascii_only) for v in node) + "]"
    if isinstance(node, str):
        return json.dumps(node, ensure_ascii=ascii_only)
    return json.dumps(node)


def to_bytes(text: str) -> bytes:
    # surrogatepass: a lone surrogate written raw becomes the invalid UTF-8 a sender could send
    return text.encode("utf-8", "surrogatepass")


def to_node(value: Any) -> Any:
    """A plain JSON value (dicts, lists ...) as nodes, ready to be mutated and rendered."""
    if isinstance(value, dict):
        return Obj(tuple((k, to_node(v)) for k, v in value.items()))
    if isinstance(value, list):
        return [to_node(v) for v in value]
    return value


odd_numbers = st.sampled_from(
    ["1e400", "-1e400", "1e308", "-0", "0.0", "1E+2", "9" * 30, "9" * 400, "0." + "0" * 400 + "1", "1e-400",
     "2147483647", "2147483648", "9223372036854775807", "9223372036854775808", "-2147483649", "1790000000000", "1e300",
     "4102444800", "4102444800.5", "315576000.1"]
).map(Token)
texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010, categories=["Cs", "Lo", "Co", "Cn"]), max_size=6),  # lone surrogates
    st.sampled_from(["", "\x00", "a\x00b", "İzmir", "ığüşöç", "ISTANBUL", "kiosk-1", "nabiz/+/#", "$share/g/x", "\ud800", "\udfff", "\ufeff", "x" * 300]),
    st.uuids().map(str).map(lambda u: u.upper()),
    st.uuids().map(lambda u: u.hex),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), odd_numbers, texts,
)
FIELD_NAMES = sorted(
    {
        name
        for kind in (p.Upload, p.ResponsePayload, p.AnswerPayload, p.Moment, p.SenderClock, p.Status, p.Health, p.Ack, p.Refusal, p.SurveyAssignment, p.SurveyReport)
        for name in kind.__struct_fields__
    }
)
#: Keys an error message may quote back: NUL, a lone surrogate, a long one, a known field twice.
nasty_keys = st.sampled_from(["\x00", "x\x00y", "\ud800", "İ", "v", "device_id", "uuid", "k" * 300, "", "$.v", "`"])
keys = st.one_of(st.sampled_from(FIELD_NAMES), nasty_keys, texts)


def deep(depth: int, kind: str) -> Token:
    opening, closing = ("[", "]") if kind == "array" else ('{"a":', "}")
    return Token(opening * depth + "1" + closing * depth if kind == "object" else opening * depth + closing * depth)


depths = st.one_of(st.sampled_from([6, 12, 100, 1000, 3000]), st.integers(min_value=1, max_value=3000))
deep_nesting = st.builds(deep, depths, st.sampled_from(["array", "object"]))

json_nodes = st.recursive(
    st.one_of(scalars, deep_nesting),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(st.tuples(keys, children), max_size=5).map(lambda pairs: Obj(tuple(pairs))),
    ),
    max_leaves=8,
)


# --- valid payloads of every channel -----------------------------------------------------------

# Valid values come mostly from small pools: drawing them is cheap, so the examples go to the mutations.
device_ids = st.one_of(
    st.sampled_from(["kiosk-1", "kiosk-2", "k", "0", "ist-kadikoy-01", "a" * 64, "x_y-z"]),
    st.from_regex(p.DEVICE_ID_PATTERN, fullmatch=True).filter(lambda d: d not in p.RESERVED_IDS),
)
short_texts = st.sampled_from(["exit-default", "boot-1", "İzmir Alsancak", "ığüşöç ĞÜŞİÖÇ", "x", "y" * 64, "very-unhappy", "😀", "a\u0301"])
walls = st.one_of(st.sampled_from([0.0, 86.5, 1_790_000_000.0, 1_790_000_000.123, p.LATEST_WALL]), st.floats(min_value=0, max_value=p.LATEST_WALL))
monotonics = st.one_of(st.sampled_from([0.0, 12.0, 2028.884885971, p.MAX_MONOTONIC]), st.floats(min_value=0, max_value=p.MAX_MONOTONIC))
moments = st.fixed_dictionaries({"wall": walls, "monotonic": monotonics})
sender_clocks = st.fixed_dictionaries({"wall": walls, "monotonic": monotonics, "clock_synced": st.booleans(), "boot_id": short_texts})
versions = st.sampled_from(p.ACCEPTED_VERSIONS)
uuid_texts = st.uuids().flatmap(lambda u: st.sampled_from([str(u), str(u).upper()]))


@st.composite
def responses(draw, device_id: str | None = None) -> dict:
    answer = st.fixed_dictionaries(
        {"question": short_texts, "option": short_texts, "button": st.integers(1, 9), "negative": st.booleans(), "elapsed_ms": st.integers(0, 2**31 - 1)}
    )
    body = {
        "uuid": draw(uuid_texts),
        "survey_id": draw(short_texts),
        "survey_version": draw(st.integers(0, 2**31 - 1)),
        "language": draw(st.sampled_from(["tr", "en", "deu"])),
        "status": draw(st.sampled_from(["completed", "abandoned"])),
        "misuse": draw(st.booleans()),
        "negative": draw(st.booleans()),
        "end_reason": draw(st.sampled_from(["completed", "idle", "shutdown", "misuse"])),
        "answers": draw(st.lists(answer, max_size=2)),
        "presses": draw(st.lists(st.integers(0, 99), max_size=4)),
        "started": draw(moments),
        "finished": draw(moments),
        "boot_id": draw(short_texts),
        "clock_synced": draw(st.booleans()),
    }
    if device_id is not None:
        body["device_id"] = device_id
    return body


@st.composite
def uploads(draw, device_id: str | None = None) -> dict:
    device = device_id or draw(device_ids)
    version = draw(versions)
    recorded = draw(st.one_of(st.just(device), device_ids)) if version >= 2 else None
    return {"v": version, "device_id": device, "sent": draw(sender_clocks), "responses": draw(st.lists(responses(recorded), min_size=1, max_size=2))}


def statuses(device_id: str | None = None) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {"v": versions, "device_id": st.just(device_id) if device_id else device_ids, "online": st.booleans()},
        optional={"software": short_texts, "boot_id": short_texts, "reason": st.sampled_from(["connected", "lost", "shutdown"])},
    )


def healths(device_id: str | None = None) -> st.SearchStrategy[dict]:
    count = st.integers(0, 2**31 - 1)
    return st.fixed_dictionaries(
        {
            "v": versions, "device_id": st.just(device_id) if device_id else device_ids, "sent": sender_clocks, "software": short_texts,
            "survey_id": short_texts, "survey_version": count, "backlog": count, "oldest_unsent_age_s": st.none() | walls,
            "unsaved": count, "refused": count, "disk_free_bytes": st.integers(0, 2**63 - 1),
            "cpu_temp_c": st.none() | st.floats(min_value=-273.15, max_value=1000), "uptime_s": walls,
        },
        optional={"misuse_refused": count, "survey_source": st.sampled_from(["default", "file", "pushed"]), "survey_verified": st.booleans()},
    )


def acks(device_id: str | None = None) -> st.SearchStrategy[dict]:
    refusal = st.fixed_dictionaries({"uuid": uuid_texts, "reason": st.one_of(short_texts, st.just(""), st.just("r" * 200))})
    return st.fixed_dictionaries({"v": versions, "stored": st.lists(uuid_texts, max_size=5)}, optional={"refused": st.lists(refusal, max_size=3), "at": walls})


#: Head office's key in the fuzz tests (fixed, so runs repeat), and a small survey it signs.
SIGNING_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
STRANGER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))  # signs well, trusted by nobody
TRUSTED_KEYS = assignments.trusted_keys([assignments.public_key_text(assignments.raw_public_key(SIGNING_KEY))])
SMALL_SURVEY = {
    "id": "mini", "version": 1, "languages": ["tr", "en"], "welcome": {"tr": "Hoş geldiniz", "en": "Welcome"}, "thank_you": {"tr": "Teşekkürler", "en": "Thanks"},
    "questions": [{"id": "q", "text": {"tr": "Nasıldı?", "en": "How was it?"}, "options": [
        {"id": "bad", "button": 1, "label": {"tr": "Kötü", "en": "Bad"}, "negative": True}, {"id": "good", "button": 2, "label": {"tr": "İyi", "en": "Good"}},
    ]}],
}


def survey_assignments(device_id: str | None = None) -> st.SearchStrategy[dict]:
    """Assignments as the fleet sends them: really signed (for *device_id*, else a few devices),
    or of the right shape with any signature, key id and document."""
    target = st.just(device_id) if device_id else device_ids
    signed = st.builds(
        lambda key, to, rollout, seq, at: msgspec.to_builtins(assignments.sign(
            key, survey_id="mini", version=1, rollout=rollout, seq=seq, target=to, document=assignments.canonical_document(SMALL_SURVEY), issued_at=at,
        )),
        st.sampled_from([SIGNING_KEY, SIGNING_KEY, SIGNING_KEY, STRANGER_KEY]), target, st.integers(1, 2**63 - 1), st.integers(1, 2**63 - 1), walls,
    )
    shaped = st.fixed_dictionaries({
        "v": versions, "rollout": st.integers(1, 2**63 - 1), "seq": st.integers(1, 2**63 - 1), "survey_id": st.sampled_from(["mini", "exit-default", "x"]),
        "version": st.integers(0, 2**31 - 1), "target": target, "document": st.one_of(short_texts, st.just(assignments.canonical_document(SMALL_SURVEY))),
        "key_id": st.sampled_from(["", *TRUSTED_KEYS, "0123456789abcdef"]), "signature": st.one_of(st.just(""), st.binary(min_size=64, max_size=64).map(lambda b: base64.b64encode(b).decode())),
        "issued_at": walls,
    })
    return st.one_of(signed, signed, shaped)


def survey_reports(device_id: str | None = None) -> st.SearchStrategy[dict]:
    serial = st.integers(0, 2**63 - 1)
    return st.fixed_dictionaries({
        "v": versions, "device_id": st.just(device_id) if device_id else device_ids, "rollout": serial, "seq": serial, "survey_id": short_texts,
        "version": st.integers(0, 2**31 - 1), "status": st.sampled_from(["delivered", "applied", "refused", "failed"]),
        "reason": st.one_of(st.just(""), short_texts, st.just("r" * 500), st.just("replayed: sequence 3 ≤ last accepted 7")), "at": walls,
    })


VALID = {"responses": uploads, "status": statuses, "health": healths, "ack": acks, "survey": survey_assignments, "survey_report": survey_reports}


# --- mutations ----------------------------------------------------------------------------------


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(node, Obj):
        for index, (_, value) in enumerate(node.pairs):
            found += _paths(value, (*path, index))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _replace(node: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(node, Obj):
        pairs = list(node.pairs)
        pairs[head] = (pairs[head][0], _replace(pairs[head][1], rest, new))
        return Obj(tuple(pairs))
    items = list(node)
    items[head] = _replace(items[head], rest, new)
    return items


#: What a mutation puts in: deep nesting often (it is what stopped the fleet), else anything.
replacements = st.one_of(deep_nesting, json_nodes, scalars)


def _mutate(draw: st.DrawFn, node: Any) -> Any:
    path = draw(st.sampled_from(_paths(node)[1:] or [()]))  # whole payloads replaced are json_nodes' job
    action = draw(st.sampled_from(["replace", "replace", "replace", "repeat-key", "add-key", "add-key", "drop"]))
    target = _at(node, path[:-1])
    if action == "replace" or not path:
        return _replace(node, path, draw(replacements))
    if isinstance(target, Obj):
        pairs = list(target.pairs)
        key = pairs[path[-1]][0]
        if action == "repeat-key":
            pairs.insert(draw(st.integers(0, len(pairs))), (key, draw(replacements)))
        elif action == "add-key":
            pairs.append((draw(keys), draw(replacements)))
        else:
            del pairs[path[-1]]
        return _replace(node, path[:-1], Obj(tuple(pairs)))
    items = list(target)
    if action == "drop":
        del items[path[-1]]
    else:
        items.insert(path[-1], draw(replacements))
    return _replace(node, path[:-1], items)


@st.composite
def near_misses(draw, channel: p.Channel, device_id: str | None = None) -> bytes:
    node = to_node(draw(VALID[channel](device_id)))
    for _ in range(draw(st.integers(1, 3))):
        node = _mutate(draw, node)
    return to_bytes(render(node, ascii_only=draw(st.booleans())))


@st.composite
def nested_inside(draw, channel: p.Channel, device_id: str | None = None) -> bytes:
    """A valid payload with one value, anywhere below the top, nested deep (the message that stopped the fleet)."""
    node = to_node(draw(VALID[channel](device_id)))
    depth = draw(st.sampled_from([6, 12, 500, 1000, 3000, 20_000]))
    node = _replace(node, draw(st.sampled_from(_paths(node)[1:])), deep(depth, draw(st.sampled_from(["array", "object"]))))
    return to_bytes(render(node))


@st.composite
def extra_key(draw, channel: p.Channel, device_id: str | None = None) -> bytes:
    """A valid payload with one key more in one of its objects (or a known key twice): what an
    error message then quotes back is input too."""
    node = to_node(draw(VALID[channel](device_id)))
    objects = [path for path in _paths(node) if isinstance(_at(node, path), Obj)]
    path = draw(st.sampled_from(objects))
    pairs = list(_at(node, path).pairs)
    pairs.insert(draw(st.integers(0, len(pairs))), (draw(keys), draw(replacements)))
    return to_bytes(render(_replace(node, path, Obj(tuple(pairs))), ascii_only=draw(st.booleans())))


def _at(node: Any, path: tuple) -> Any:
    for step in path:
        node = node.pairs[step][1] if isinstance(node, Obj) else node[step]
    return node


@st.composite
def damaged(draw, channel: p.Channel, device_id: str | None = None) -> bytes:
    """A valid payload cut short, or with a few bytes changed."""
    data = bytearray(to_bytes(render(to_node(draw(VALID[channel](device_id))), ascii_only=draw(st.booleans()))))
    if draw(st.booleans()):
        return bytes(data[: draw(st.integers(0, len(data)))])
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def payloads(channel: p.Channel, device_id: str | None = None) -> st.SearchStrategy[bytes]:
    """Anything a sender could publish on *channel*, weighted to get past the first checks."""
    return st.one_of(
        near_misses(channel, device_id),
        near_misses(channel, device_id),
        nested_inside(channel, device_id),
        extra_key(channel, device_id),
        damaged(channel, device_id),
        json_nodes.map(render).map(to_bytes),
        st.binary(max_size=300),
        VALID[channel](device_id).map(lambda body: json.dumps(body).encode()),
    )


def topics() -> st.SearchStrategy[str]:
    level = st.one_of(device_ids, texts, st.sampled_from(["+", "#", "", "fleet", "$share", "$SYS", "nabiz", *p.UPSTREAM, *p.DOWNSTREAM]))
    return st.one_of(texts, st.lists(level, min_size=0, max_size=5).map("/".join), st.tuples(device_ids, st.sampled_from([*p.UPSTREAM, *p.DOWNSTREAM, "x"])).map(lambda t: f"nabiz/{t[0]}/{t[1]}"))


def new_uuid() -> str:
    return str(uuidlib.uuid4())
