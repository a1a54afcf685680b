"""Secret redaction for everything perfop stores, prints, writes or answers.

Two layers: patterns for credential formats (a subset of the rules of gitleaks and detect-secrets,
mirrored here so perfop has no scanner dependency: provider tokens, private keys, JWTs, URL
credentials, ``password=…`` / ``token: …`` assignments, ``Bearer`` headers, random-looking tokens
of 20+ characters) and, in ``Redactor``, the literal values of secrets perfop knows (secret-named
variables of its environment, keys given to the agent runner).

Every pattern is linear: quantifiers are bounded, and each pattern starts with a literal or a
single position test, so hostile text (10 MB of ``a://a:a…``) cannot make a scan quadratic
(benchmarks/redaction.py measures it).
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

REDACTED = "[REDACTED]"
MIN_SECRET_LEN = 6

_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|SESSION", re.IGNORECASE
)

# Provider formats (gitleaks rule ids in comments). Bounded so a run of token characters is
# consumed once.
_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,255}"),  # github-pat, github-oauth, github-app-token
    re.compile(r"github_pat_[A-Za-z0-9_]{20,255}"),  # github-fine-grained-pat
    # gitlab-pat, -deploy-token, -ptt, -rrt, -cicd-job-token, -feed-token, -incoming-mail ...
    re.compile(r"gl(?<![A-Za-z0-9]gl)(?:pat|dt|ptt|rt|cbt|oas|soat|ft|imt|agent)-[\w-]{20,255}"),
    re.compile(r"GR1348941[A-Za-z0-9_-]{20,255}"),  # gitlab-runner-registration-token
    # aws-access-token
    re.compile(r"A(?<![A-Za-z0-9]A)(?:KIA|SIA|BIA|CCA|3T[A-Z0-9])[0-9A-Z]{16}(?![A-Za-z0-9])"),
    re.compile(r"xox[abposre]-[A-Za-z0-9-]{10,255}"),  # slack-*-token
    re.compile(r"hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9+/_-]{20,255}"),  # webhook
    re.compile(r"[sr]k_(?:live|test)_[A-Za-z0-9]{10,255}"),  # stripe-access-token
    re.compile(r"AIza[0-9A-Za-z_-]{35}"),  # gcp-api-key
    re.compile(r"npm_[A-Za-z0-9]{36}"),  # npm-access-token
    re.compile(r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000}"),  # pypi-upload-token
    # sendgrid-api-token
    re.compile(r"SG\.(?<![A-Za-z0-9]SG\.)[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),
    re.compile(r"dop_v1_[a-f0-9]{64}"),  # digitalocean-pat
    re.compile(r"hf_(?<![A-Za-z0-9]hf_)[A-Za-z0-9]{34,40}"),  # huggingface-access-token
    # jwt: tried only where a run of token characters starts, each part consumed possessively
    re.compile(
        r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{8,}+"
    ),
    re.compile(  # private-key; an unterminated one hides everything after it
        r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----.*?(?:-----END [A-Z ]{0,40}PRIVATE KEY-----|\Z)",
        re.DOTALL,
    ),
    # openai-api-key, anthropic-api-key
    re.compile(r"sk-(?<![A-Za-z0-9]sk-)(?:ant-)?[A-Za-z0-9_-]{20,255}"),
)
# ``scheme://user:password@host``; the user may be empty (redis://:pw@host). Anchored on the
# literal ``://`` so the scan is linear; the scheme stays as it is.
_URL_CREDENTIALS = re.compile(r"://[^/\s:@]{0,256}+:[^/\s@]{1,512}+@")
# ``password=…``, ``DB_PASSWORD: …``, ``"client_secret": "…"`` in free text (detect-secrets'
# keyword plugin): the value after the keyword is hidden. Keywords are found with a literal
# search in an ASCII-lowered copy (same length), then ``_VALUE`` is tried right after each.
_KEYWORDS: dict[str, re.Pattern[str]] = {
    "pass": re.compile(r"(?:word|wd|phrase)?s?"),
    "secret": re.compile(r"s?"),
    "token": re.compile(r"s?"),
    "key": re.compile(r"s?"),
    "credential": re.compile(r"s?"),
}
_KEY_PREFIXES = ("api", "api_", "api-", "access_", "access-", "private_", "private-", "secret_")
_VALUE = re.compile(
    r"(?![A-Za-z0-9])[\"']?[ \t]{0,8}[:=][ \t]{0,8}[\"']?(?P<value>[^\s\"'<>,;&|]{1,1024})"
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# ``Authorization: Bearer …`` / ``Basic …`` / GitHub's ``token …``; a value of letters only is
# a word ("Bearer authentication"), not a credential.
_AUTH_HEADER = re.compile(
    r"(?P<kind>B(?:earer|asic)|uthorization:[ \t]{0,8}token)[ \t]{1,8}"
    r"(?P<value>[A-Za-z0-9._~+/=-]{8,4096})"
)
# Only where a run starts, so a run shorter than 20 is tried once, not once per character.
# Captured, so ``split`` keeps the runs between the rest of the text.
_TOKENISH = re.compile(r"((?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_=-]{20,}+)")
_LONGEST_JUDGED = 4096  # a longer run is judged by its start (a 10 MB base64 blob is one run)
_WORD = re.compile(r"[a-z]{3,}")
_HEX = re.compile(r"[0-9a-f]+|[0-9A-F]+")
_PATHLIKE_SEGMENT = re.compile(r"[a-z0-9_.=+-]*")


def _entropy(token: str) -> float:
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in Counter(token).values())


def _wordy(token: str) -> bool:
    """Identifiers (CamelCase, snake_case) are mostly runs of lowercase letters; random tokens not.

    In random base62 strings of 32 characters, runs of 3+ lowercase letters cover half the
    string less than 1% of the time; in ``TestHTTPClientRetriesWithBackoff2Times`` they cover 71%.
    """
    return bool(token) and sum(map(len, _WORD.findall(token))) >= 0.5 * len(token)


_DIGIT_BYTES = b"0123456789"
_LOWER_BYTES = bytes(range(ord("a"), ord("z") + 1))
_UPPER_BYTES = bytes(range(ord("A"), ord("Z") + 1))


def _random_looking(token: str) -> bool:
    """Mixed case and digits, no words, few digits, and near the entropy of a random string.

    Counted on the ASCII bytes (``_TOKENISH`` runs are ASCII): ``bytes.translate`` deletes a
    class in C, several times faster than ``str.translate`` or a set test per class, and a
    10 MB run of random tokens judges each one.
    """
    n = len(token)
    if n < 20:
        return False
    raw = token.encode("ascii", "replace")
    digits = n - len(raw.translate(None, _DIGIT_BYTES))
    lower = n - len(raw.translate(None, _LOWER_BYTES))
    if not digits or not lower or len(raw.translate(None, _UPPER_BYTES)) == n:
        return False  # hex digests, upper-case constants, words: not three classes
    if digits > 0.5 * n:
        return False  # timestamps and counters (20261201T062519), not base62 noise
    if len(set(raw)) < (0.7 * n if n < 32 else 16):
        return False  # random text repeats few characters (base62, 20 chars: ~17 distinct)
    if lower >= 0.5 * n and _wordy(token):  # fewer lowercase letters cannot be half words
        return False
    return n < 32 or _entropy(token) >= 4.0


def _high_entropy(token: str) -> bool:
    """A token that looks like a generated secret; paths are judged segment by segment.

    Paths, hex digests (git shas, hashes perfop itself records), timestamps and words do not
    qualify. A path is a secret only when one of its segments is (base64 contains '/' too).
    """
    token = token[:_LONGEST_JUDGED]
    if "/" not in token:
        return _random_looking(token)
    segments = token.split("/")
    if token.startswith(("/", "./", "../", "~")) or all(
        _wordy(seg) or _PATHLIKE_SEGMENT.fullmatch(seg) for seg in segments
    ):
        return False
    if any(_random_looking(seg) for seg in segments):
        return True
    if any(_wordy(seg) or _PATHLIKE_SEGMENT.fullmatch(seg) for seg in segments):
        return False  # a path with a generated folder name (.perfop/profiles/2026…-d32910/…)
    # base64 with '/' whose pieces are short: judge the whole
    return len(token) >= 32 and _random_looking(token.replace("/", ""))


# Patterns that start with a character class are tried at every position of the text; the
# literals one of their matches must contain are looked for first (a C-speed scan), and the
# pattern is skipped when none occurs. Every other pattern starts with a literal of its own.
_NEEDS: dict[re.Pattern[str], tuple[str, ...]] = {
    _SECRET_PATTERNS[7]: ("k_live_", "k_test_"),
    _AUTH_HEADER: ("Bearer", "Basic", "uthorization:"),
}


def _present(pattern: re.Pattern[str], text: str) -> bool:
    needs = _NEEDS.get(pattern)
    return needs is None or any(literal in text for literal in needs)


def redact_text(text: str) -> str:
    """Replace anything in ``text`` that looks like a credential with ``[REDACTED]``."""
    for pattern in _SECRET_PATTERNS:
        if _present(pattern, text):
            text = pattern.sub(REDACTED, text)
    text = _URL_CREDENTIALS.sub(f"://{REDACTED}@", text)
    if _present(_AUTH_HEADER, text):
        text = _AUTH_HEADER.sub(_hide_header, text)
    text = _hide_assignments(text)
    return _hide_tokens(text)


_BULK = 2_000  # distinct tokens from which they are judged together (numpy), not one by one
_BULK_LONGEST = 256  # longer tokens (few per MB) are judged one by one


def _hide_tokens(text: str) -> str:
    """Replace random-looking tokens.

    Text with many tokens (10 MB of random ones: 420,000) is judged in bulk with numpy by the
    same rules as ``_random_looking`` (benchmarks/redaction.py): every token when most are
    distinct (a sample says), else each distinct one once.
    """
    parts = _TOKENISH.split(text)
    if len(parts) == 1:
        return text
    tokens = parts[1::2]
    if len(tokens) >= _BULK:
        sample = tokens[:: len(tokens) // 1000]
        if len(set(sample)) > len(sample) // 2:
            # Mostly distinct: judging every token with numpy costs less than finding the
            # distinct ones first.
            flags = _judge_in_bulk(tokens)
            if not any(flags):
                return text
            parts[1::2] = [REDACTED if f else t for t, f in zip(tokens, flags, strict=True)]
            return "".join(parts)
        distinct = list(set(tokens))
        judged = _judge_in_bulk(distinct) if len(distinct) >= _BULK else _one_by_one(distinct)
        secret = set(itertools.compress(distinct, judged))
    else:
        secret = {t for t in set(tokens) if _high_entropy(t)}
    if not secret:
        return text
    parts[1::2] = [REDACTED if t in secret else t for t in tokens]
    return "".join(parts)


def _one_by_one(group: Sequence[str]) -> list[bool]:
    """``_high_entropy`` of each token, each distinct one judged once."""
    cache = {t: _high_entropy(t) for t in set(group)}
    return [cache[t] for t in group]


def _judge_in_bulk(tokens: list[str]) -> list[bool]:
    """``[_high_entropy(t) for t in tokens]``, vectorised per token length."""
    import numpy as np

    count = len(tokens)
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=count)
    order = np.argsort(lengths, kind="stable")
    ordered = lengths[order]
    bounds = [0, *(np.flatnonzero(np.diff(ordered)) + 1).tolist(), count]
    verdict = np.zeros(count, dtype=bool)
    for a, b in itertools.pairwise(bounds):
        n = int(ordered[a])
        if n < 20:
            continue
        idx = order[a:b]
        group = tokens if b - a == count else [tokens[i] for i in idx.tolist()]
        verdict[idx] = _one_by_one(group) if n > _BULK_LONGEST else _judge_rows(group, n)
    return verdict.tolist()


_TOKEN_CHARS = string.ascii_letters + string.digits + "+/_=-"  # what _TOKENISH runs are made of


@functools.cache
def _tables() -> tuple[Any, Any, Any, Any]:
    """Lookup tables by byte: character class, bit of the character (the first 64 token
    characters in a uint64, the other 3 in a uint8), and bits set per byte value."""
    import numpy as np

    kind = np.zeros(256, dtype=np.uint8)  # 1 lower, 2 upper, 3 digit, 4 '/'
    kind[ord("a") : ord("z") + 1] = 1
    kind[ord("A") : ord("Z") + 1] = 2
    kind[ord("0") : ord("9") + 1] = 3
    kind[ord("/")] = 4
    low_bit = np.zeros(256, dtype=np.uint64)
    high_bit = np.zeros(256, dtype=np.uint8)
    for i, char in enumerate(_TOKEN_CHARS):
        if i < 64:
            low_bit[ord(char)] = np.uint64(1) << np.uint64(i)
        else:
            high_bit[ord(char)] = 1 << (i - 64)
    popcount = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)
    return kind, low_bit, high_bit, popcount


def _distinct_counts(rows: Any) -> Any:
    """Distinct characters per row of token bytes: one OR of character bits per row (a sort
    per row costs several times more)."""
    import numpy as np

    _, low_bit, high_bit, popcount = _tables()
    low = np.bitwise_or.reduce(low_bit[rows], axis=1)
    high = np.bitwise_or.reduce(high_bit[rows], axis=1)
    return popcount[low.view(np.uint8).reshape(-1, 8)].sum(axis=1) + popcount[high]


def _judge_rows(group: Sequence[str], n: int) -> Any:
    """``_high_entropy`` of tokens of length ``n`` (20 to _BULK_LONGEST) as a bool array."""
    import numpy as np

    k = len(group)
    rows = np.frombuffer("".join(group).encode("ascii", "replace"), dtype=np.uint8)
    rows = rows.reshape(k, n)
    kind = _tables()[0][rows]
    path = (kind == 4).any(axis=1)  # paths are judged segment by segment, in Python
    secret = np.zeros(k, dtype=bool)
    if path.any():
        at = np.flatnonzero(path)
        secret[at] = _one_by_one([group[i] for i in at.tolist()])
    digits = (kind == 3).sum(axis=1)
    lower = (kind == 1).sum(axis=1)
    ok = ~path & (digits > 0) & (lower > 0) & (kind == 2).any(axis=1) & (digits <= 0.5 * n)
    if n < 32:
        ok &= _distinct_counts(rows) >= 0.7 * n
    else:  # the entropy rule needs each character's count: sorted rows give the runs
        ordered = np.sort(rows, axis=1)
        starts = np.ones((k, n), dtype=bool)
        starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
        ok &= starts.sum(axis=1) >= 16
        at = np.flatnonzero(starts.ravel())
        p = np.diff(np.append(at, starts.size)) / n
        entropy = np.bincount(at // n, weights=-p * np.log2(p), minlength=k)
        close = ok & (np.abs(entropy - 4.0) < 1e-6)  # float summation order: ask Python
        ok &= entropy >= 4.0
        for i in np.flatnonzero(close).tolist():
            ok[i] = _entropy(group[i]) >= 4.0
    # _wordy: runs of 3+ lowercase letters cover half the token. A letter is in such a
    # run exactly when one of the three windows of 3 letters around it is all lowercase.
    low = kind == 1
    window = low[:, :-2] & low[:, 1:-1] & low[:, 2:]
    covered = np.zeros((k, n), dtype=bool)
    for shift in range(3):
        covered[:, shift : n - 2 + shift] |= window
    ok &= covered.sum(axis=1) < 0.5 * n
    return secret | ok


def _hide_header(m: re.Match[str]) -> str:
    if m.group("value").isalpha():
        return m.group(0)
    return f"{m.group('kind')} {REDACTED}"


def _hide_assignments(text: str) -> str:
    lowered = text.translate(_ASCII_LOWER)
    spans: list[tuple[int, int]] = []
    for keyword, suffix in _KEYWORDS.items():
        start = lowered.find(keyword)
        while start >= 0:
            end = start + len(keyword)
            if keyword == "key" and not lowered[max(0, start - 8) : start].endswith(_KEY_PREFIXES):
                start = lowered.find(keyword, end)
                continue
            tail = suffix.match(lowered, end)
            value = _VALUE.match(text, tail.end() if tail else end)
            if value is None:
                start = lowered.find(keyword, end)
                continue
            found = value.group("value")
            if (
                found != REDACTED
                and not found.startswith(("{", "$", "[REDACTED"))
                and (found.lower() not in _PLACEHOLDERS)
            ):
                spans.append(value.span("value"))
            start = lowered.find(keyword, value.end())
    if not spans:
        return text
    spans.sort()
    out: list[str] = []
    at = 0
    for begin, end in spans:
        if begin < at:
            continue  # overlaps a value already hidden
        out += [text[at:begin], REDACTED]
        at = end
    out.append(text[at:])
    return "".join(out)


_PLACEHOLDERS = frozenset({"none", "null", "true", "false", "required", "optional", "str"})


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def redact_obj(obj: Any) -> Any:
    """Redact every string inside a JSON-like structure (dict keys that name secrets too)."""
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, Mapping):
        return {
            k: REDACTED
            if isinstance(k, str) and is_secret_name(k) and isinstance(v, str)
            else redact_obj(v)
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [redact_obj(v) for v in obj]
    return obj


_SECRET_FLAG = re.compile(
    r"^--?[A-Za-z0-9-]*(?:token|secret|password|passwd|api-key|apikey|key)"
    r"[A-Za-z0-9-]*(?:=(?P<value>.*))?$",
    re.IGNORECASE | re.DOTALL,
)
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """Redact a mapping of variables: secret-looking names lose their value, values are scanned."""
    return {k: REDACTED if is_secret_name(k) else redact_text(v) for k, v in env.items()}


def redact_argv(argv: Iterable[str]) -> list[str]:
    """Redact argv items; the value after (or in) a ``--token``-like flag is always hidden."""
    out: list[str] = []
    hide_next = False
    for item in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        flag = _SECRET_FLAG.match(item) if len(item) < 4096 else None
        if flag:
            if flag.group("value") is not None:
                out.append(item.split("=", 1)[0] + "=" + REDACTED)
            else:
                out.append(item)
                hide_next = True
            continue
        name, sep, _ = item.partition("=")
        if sep and _VAR_NAME.fullmatch(name) and is_secret_name(name):
            out.append(f"{name}={REDACTED}")
            continue
        out.append(redact_text(item))
    return out


class Redactor:
    """Patterns plus the literal values of known secrets (a plain password matches no pattern).

    Known secrets: ``secrets`` given by the caller (e.g. the agent runner's API key) and, with
    ``env``, the values of its secret-named variables. The MCP server and the agent runner use
    this one class.
    """

    def __init__(
        self, secrets: Iterable[str | None] = (), *, env: Mapping[str, str] | None = None
    ) -> None:
        values = {s for s in secrets if s and len(s) >= MIN_SECRET_LEN}
        if env is not None:
            values |= {v for k, v in env.items() if is_secret_name(k) and len(v) >= MIN_SECRET_LEN}
        # Longest first, so a secret that contains another is replaced whole.
        self._values = sorted(values, key=len, reverse=True)

    @classmethod
    def from_environment(cls, secrets: Iterable[str | None] = ()) -> Redactor:
        return cls(secrets, env=os.environ)

    def text(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return redact_text(text)

    def obj(self, obj: Any) -> Any:
        """Every string of a JSON-like structure; string values of secret-named keys hidden."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, Mapping):
            return {
                str(k): REDACTED
                if isinstance(k, str) and is_secret_name(k) and isinstance(v, str)
                else self.obj(v)
                for k, v in obj.items()
            }
        if isinstance(obj, list | tuple):
            return [self.obj(v) for v in obj]
        return obj
