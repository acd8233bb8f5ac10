"""Texts of known kinds for the real tier: prose, code, hex IDs, URLs, tables and CJK, made
deterministically (no data files), each roughly `chars` characters long."""

import hashlib

PROSE = (
    "The river rose slowly through the night, and by morning the lower fields were under water. "
    "Farmers moved their animals to the hills while the children watched from the old stone bridge. "
)
CODE = (
    "def merge(left: list[int], right: list[int]) -> list[int]:\n"
    "    out, i, j = [], 0, 0\n"
    "    while i < len(left) and j < len(right):\n"
    "        if left[i] <= right[j]:\n"
    "            out.append(left[i]); i += 1\n"
    "        else:\n"
    "            out.append(right[j]); j += 1\n"
    "    return out + left[i:] + right[j:]\n"
)
CJK = (
    "河水在夜里慢慢上涨，到了早晨，低处的田地都被淹没了。农民们把牲畜赶到山上，"
    "孩子们站在古老的石桥上看着。天气预报说，雨还要下三天。"
)


def _repeat(unit: str, chars: int) -> str:
    return (unit * (chars // len(unit) + 1))[:chars]


def hex_ids(chars: int) -> str:
    ids, n = [], 0
    while sum(len(i) + 1 for i in ids) < chars:
        ids.append(hashlib.sha256(str(n).encode()).hexdigest()[:32])
        n += 1
    return " ".join(ids)[:chars]


def urls(chars: int) -> str:
    parts, n = [], 0
    while sum(len(p) + 1 for p in parts) < chars:
        digest = hashlib.md5(str(n).encode()).hexdigest()
        parts.append(f"https://cdn{n % 7}.example.org/assets/{digest[:8]}/{digest[8:20]}.js?v={n}&sig={digest[20:]}")
        n += 1
    return "\n".join(parts)[:chars]


def table(chars: int) -> str:
    rows, n = ["| id | sku | qty | price |", "|---|---|---|---|"], 0
    while sum(len(r) + 1 for r in rows) < chars:
        rows.append(f"| {n} | X{n * 7919 % 100000:05d}-{n % 13} | {n % 97} | {n * 3.17:.2f} |")
        n += 1
    return "\n".join(rows)[:chars]


def sample(kind: str, chars: int) -> str:
    """A text of `kind` (prose, code, hex, urls, table, cjk), `chars` characters long."""
    makers = {
        "prose": lambda: _repeat(PROSE, chars),
        "code": lambda: _repeat(CODE, chars),
        "cjk": lambda: _repeat(CJK, chars),
        "hex": lambda: hex_ids(chars),
        "urls": lambda: urls(chars),
        "table": lambda: table(chars),
    }
    return makers[kind]()


KINDS = ("prose", "code", "hex", "urls", "table", "cjk")
