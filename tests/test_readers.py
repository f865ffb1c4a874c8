"""A property test of the two readers (Hypothesis): random headers (permuted, repeated, missing, unknown columns),
random cell text (Unicode whitespace, control characters, huge numbers, long ids, other spellings), random bytes and
line endings, fed to the CSV reader and, where a JSON request can say the same, to the JSON reader. Each input is
either accepted by both with the same passengers, or refused by both with a `DataError`; nothing else is ever raised.

CI runs a fixed, bounded profile; a longer one runs by hand:  HYPOTHESIS_PROFILE=long pytest tests/test_readers.py
"""
import io
import json
import math
import os
import re

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from spaceship_clf.core import DataError
from spaceship_clf.data import BLANKS, CATEGORY_COLUMNS, ID, NUMBER, RAW_COLUMNS, SCHEMA, passenger_columns, read_json, read_passengers

settings.register_profile("ci", max_examples=400, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
settings.register_profile("long", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ODD = "\x00\x07\x1b\x7f\x85\x9f\u200b\ufeff,\"'/\\;é漢🚀\n\r"  # control characters, a zero-width space, a BOM, quotes, separators, non-ASCII
blanks = st.text(st.sampled_from(BLANKS), max_size=3)
odd_text = st.text(st.sampled_from(ODD) | st.characters(codec="utf-8"), max_size=12)


def padded(values):
    "Values with Unicode whitespace around them, sometimes."
    return st.tuples(blanks, values, blanks).map(lambda t: "".join(t)) | values


def valid_cell(col) -> st.SearchStrategy:
    "Text the schema takes for `col`, in the spellings a person or a program might write."
    if col.kind == "id": return padded(st.builds(lambda g, p: f"{g:04d}_{p:02d}", st.integers(0, 10**25), st.integers(0, 99)))
    if col.kind == "bool": return padded(st.sampled_from(["True", "false", "TRUE", "1", "0", "yes", "No"]))
    if col.kind == "number":
        lo, hi = col.limits
        return padded(st.floats(lo, hi).map(repr) | st.integers(int(lo), int(hi)).map(str) | st.sampled_from(["27.", ".5", "+3", "1e2", "-0"]))
    if col.kind == "category": return padded(st.sampled_from(list(col.values) + ["Pluto", "earth"]))
    if col.name == "Cabin": return padded(st.sampled_from(["B/0/P", "F/1234/S", "g/3/S", "T/0/P"]))
    return padded(st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=15))


def tricky_cell(col) -> st.SearchStrategy:
    "Near misses and junk: control characters, Unicode digits and spaces inside values, huge numbers, wrong patterns."
    common = odd_text | st.sampled_from(["nan", "inf", "-inf", "1e400", "1" * 40, "0x10", "1_000", "\u0661\u0662", "None", "x" * 201])
    if col.kind == "number": common |= st.sampled_from(["-1", "1e8", "200.0000001", "27 5", "2\u00a07"])
    if col.kind == "bool": common |= st.sampled_from(["maybe", "2", "t", "tr ue"])
    if col.kind == "id": common |= st.sampled_from(["0001_1", "_01", "0001-01", "1" * 40 + "_01", "0001_01\x00"])
    if col.name == "Cabin": common |= st.sampled_from(["B/0/X", "B//P", "B\u00a0/1/P", "T/0/P/1", "B/\u0661/P"])
    return common


def cell(name: str) -> st.SearchStrategy:
    "Mostly valid text (blank: missing), now and then a tricky one, so whole rows pass and fail."
    col = SCHEMA[name]
    return st.integers(0, 39).flatmap(lambda k: st.just("") if k == 0 else tricky_cell(col) if k == 1 else valid_cell(col))


def csv_field(text: str) -> str:
    "A field as RFC 4180 writes it: quoted when it holds a separator, a quote or a line break (of any kind)."
    return '"' + text.replace('"', '""') + '"' if re.search(r'[,"\r\n]', text) else text


@st.composite
def documents(draw):
    "(CSV bytes, the JSON body saying the same or None when JSON cannot)."
    names = draw(st.permutations(RAW_COLUMNS))
    header = list(names)
    complete = draw(st.booleans()) or draw(st.booleans())  # three times in four: every column once
    if not complete:
        header = draw(st.lists(st.sampled_from(list(RAW_COLUMNS) + ["Extra", "", "Agee"]), min_size=1, max_size=15))
    elif draw(st.integers(0, 5)) == 0:
        header.insert(draw(st.integers(0, len(header))), draw(st.sampled_from(["Extra", "", "Agee"])))
    rows = draw(st.lists(st.fixed_dictionaries({c: cell(c) for c in RAW_COLUMNS}), min_size=0, max_size=3))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = "".join(",".join(map(csv_field, line)) + ending for line in [header, *([row.get(c, "") for c in header] for row in rows)])
    representable = set(RAW_COLUMNS) <= set(header) and len(set(header)) == len(header) and rows
    records = [{c: row.get(c, "") for c in header} for row in rows]
    body = json.dumps(records if len(records) > 1 or draw(st.booleans()) else records[0]) if representable else None
    return text.encode("utf-8"), body


def outcome(read):
    "('ok', columns) or ('refused', the error); anything else than a DataError is a failure of the test."
    try: return "ok", read()
    except DataError as e: return "refused", e


def same_columns(a: dict, b: dict):
    for c in RAW_COLUMNS:
        x, y = np.asarray(a[c]), np.asarray(b[c])
        if x.dtype.kind == "f": np.testing.assert_array_equal(x, y, err_msg=c)
        else: assert list(x) == list(y), (c, list(x), list(y))


@given(documents())
def test_csv_and_json_readers_agree(doc):
    data, body = doc
    by_csv = outcome(lambda: passenger_columns(read_passengers(io.BytesIO(data), "CSV body")))
    if body is None: return  # JSON cannot say it (a header with repeated or missing columns, no rows)
    by_json = outcome(lambda: read_json(body.encode())[0])
    assert by_csv[0] == by_json[0], (data, body, by_csv, by_json)
    if by_csv[0] == "ok": same_columns(by_csv[1], by_json[1])


@given(st.binary(max_size=300), st.sampled_from([b"", b"\xef\xbb\xbf", ",".join(RAW_COLUMNS).encode() + b"\n"]))
def test_any_bytes_are_read_or_refused_with_a_data_error(data, start):
    outcome(lambda: read_passengers(io.BytesIO(start + data), "CSV body"))
    outcome(lambda: read_json(start + data))
