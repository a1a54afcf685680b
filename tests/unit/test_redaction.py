"""Secret redaction: every pattern the issue names is hidden, ordinary text is left alone.

Fake credentials are assembled at run time so that secret scanners do not flag this file.
"""

from __future__ import annotations

import pytest

from perfop.environment import (
    REDACTED,
    capture_environment,
    is_secret_name,
    recorded_env,
    redact_argv,
    redact_env,
    redact_obj,
    redact_text,
)

GITHUB_CLASSIC = "ghp" + "_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
GITHUB_APP = "ghs" + "_" + "Zq8Xw7Ve6Ut5Sr4Qp3On2Ml1Kj0Ih9Gf8Ed7"
GITHUB_FINE = (
    "github" + "_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST"
)
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_STS_ID = "ASIA" + "Y34FZKBOKMUTVV7A"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
SLACK_BOT = "xoxb" + "-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_USER = "xoxp" + "-1234567890-abcdefghij"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM_BODY = "MIIEowIBAAKCAQEAr9Xh2Tq0V1x3\nkJd8fQ2mLZ7pYw3cBn4Rt5Eu6Iy7Oo8Pa9S\n"
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}-----END RSA PRIVATE KEY-----"
PEM_OPENSSH = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}-----END OPENSSH PRIVATE KEY-----"
RANDOM_TOKEN = "Zx9Qw2Er7Ty4Ui1Op8As5Df3Gh6Jk0LzXcVbNm"
OPENAI_KEY = "sk-" + "proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34"
GITLAB_PAT = "glpat" + "-xY7zQ2rT9wL4mN8vB3kD"
GITLAB_DEPLOY = "gldt" + "-Hq4Tz8Rw2Ym6Lp0Vb3Nx"
STRIPE_LIVE = "sk_" + "live_51HvQ2xKj8Lm3Np4Qr5St6Uv7"
NPM_TOKEN = "npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
GCP_KEY = "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
HF_TOKEN = "hf_" + "aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV1w"
SENDGRID = "SG." + "aB1cD2eF3gH4iJ5kL6mN7o" + "." + "pQ8rS9tU0vW1xY2zA3bC4dE5fG6hI7jK8lM9nO0pQ1r"
RANDOM_20 = "Zx9Qw2Er7Ty4Ui1Op8As"  # 20-31 characters: below the old 32-character floor
RANDOM_27 = "k3J9xQ2mT7vR4wY8zL1pN6bH5cD"

VALUE_SECRETS = {
    "github-classic": (GITHUB_CLASSIC, GITHUB_CLASSIC),
    "github-app": (GITHUB_APP, GITHUB_APP),
    "github-fine-grained": (GITHUB_FINE, GITHUB_FINE),
    "aws-key-id": (AWS_KEY_ID, AWS_KEY_ID),
    "aws-sts-key-id": (AWS_STS_ID, AWS_STS_ID),
    "aws-secret-key": (AWS_SECRET, "bPxRfiCYEXAMPLEKEY"),
    "slack-bot": (SLACK_BOT, "AbCdEfGhIjKlMnOpQrStUvWx"),
    "slack-user": (SLACK_USER, "abcdefghij"),
    "jwt": (JWT, "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"),
    "pem-rsa": (PEM, "MIIEowIBAAKCAQEAr9Xh2Tq0V1x3"),
    "pem-openssh": (PEM_OPENSSH, "kJd8fQ2mLZ7pYw3cBn4Rt5Eu6Iy7Oo8Pa9S"),
    "high-entropy": (RANDOM_TOKEN, RANDOM_TOKEN),
    "api-key": (OPENAI_KEY, "Ab12Cd34Ef56Gh78Ij90Kl12Mn34"),
    "gitlab-pat": (GITLAB_PAT, "xY7zQ2rT9wL4mN8vB3kD"),
    "gitlab-deploy-token": (GITLAB_DEPLOY, "Hq4Tz8Rw2Ym6Lp0Vb3Nx"),
    "stripe": (STRIPE_LIVE, "51HvQ2xKj8Lm3Np4Qr5St6Uv7"),
    "npm": (NPM_TOKEN, NPM_TOKEN),
    "gcp-api-key": (GCP_KEY, GCP_KEY),
    "huggingface": (HF_TOKEN, HF_TOKEN),
    "sendgrid": (SENDGRID, SENDGRID),
    "random-20": (RANDOM_20, RANDOM_20),
    "random-27": (RANDOM_27, RANDOM_27),
}


@pytest.mark.parametrize(("secret", "fragment"), VALUE_SECRETS.values(), ids=VALUE_SECRETS)
def test_credential_values_are_redacted_alone_and_in_context(secret: str, fragment: str) -> None:
    assert fragment in secret
    alone = redact_text(secret)
    assert fragment not in alone and REDACTED in alone
    text = f"export VALUE='{secret}' # used by the deploy step\n"
    out = redact_text(text)
    assert fragment not in out
    assert out.startswith("export VALUE='") and out.endswith("# used by the deploy step\n")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("password=hunter2 user=bob", "hunter2"),
        ("the password: opensesame42, then retry", "opensesame42"),
        ('{"client_secret": "s3cr3t-value"}', "s3cr3t-value"),
        ("DB_PASSWORD=letmein later", "letmein"),
        ("export API_KEY='plainvalue99'", "plainvalue99"),
        ("passphrase = correct horse", "correct"),
        ("Authorization: Bearer abc.def-123_456", "abc.def-123_456"),
        ("Authorization: token 0123456789abcdef", "0123456789abcdef"),
        ("mysql --password=Tr0ub4dor", "Tr0ub4dor"),
    ],
)
def test_passwords_and_tokens_in_free_text_are_redacted(text: str, value: str) -> None:
    """Issue 16 item 5: ``password=``/``password:`` in free text passed redaction."""
    out = redact_text(text)
    assert value not in out and REDACTED in out, out


def test_redaction_keeps_repository_relative_artifact_paths() -> None:
    """Issue 22: artifact paths with a timestamped folder are not secrets."""
    for path in (
        ".perfop/profiles/20261201T062519-d32910/py-spy.speedscope.json",
        ".perfop/profiles/20261201T062519-d32910/memray-flamegraph.html",
        "profile written: .perfop/profiles/20261130T235959-a1b2c3/pyinstrument.html",
        "perfop/worktrees/session-20261201T062519-4f2a/base",
    ):
        assert redact_text(path) == path


def test_unterminated_private_key_hides_everything_after_it() -> None:
    text = "key:\n-----BEGIN PRIVATE KEY-----\n" + PEM_BODY + "(log truncated)"
    assert redact_text(text) == f"key:\n{REDACTED}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://admin:hunter2@db.example.com/prod", "postgresql://[REDACTED]@db.example.com/prod"),
        ("https://user:p%40ss@example.com/x?y=1", "https://[REDACTED]@example.com/x?y=1"),
        ("redis://:s3cret@cache:6379/0", "redis://[REDACTED]@cache:6379/0"),
        (
            "https://x-access-token:abc123@github.com/o/r.git",
            "https://[REDACTED]@github.com/o/r.git",
        ),
    ],
)  # fmt: skip
def test_urls_lose_their_credentials(url: str, expected: str) -> None:
    assert redact_text(url) == expected
    assert redact_text(f"connecting to {url} now") == f"connecting to {expected} now"


@pytest.mark.parametrize(
    "name",
    [
        "GH_TOKEN",
        "GITHUB_TOKEN",
        "github_token",
        "MY_SECRET",
        "AWS_SECRET_ACCESS_KEY",
        "API_KEY",
        "apikey",
        "DB_PASSWORD",
        "MYSQL_PASSWD",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "AZURE_CREDENTIAL",
        "HTTP_AUTHORIZATION",
        "AUTH_HEADER",
        "COOKIE",
        "SESSION_COOKIE_NAME",
        "DJANGO_SESSION",
    ],
)
def test_secret_variable_names_lose_their_value(name: str) -> None:
    assert is_secret_name(name)
    assert redact_env({name: "plain-looking-value", "PATH": "/usr/bin"}) == {
        name: REDACTED,
        "PATH": "/usr/bin",
    }


def test_innocent_names_are_scanned_by_value() -> None:
    env = {"DEPLOY_TARGET": GITHUB_CLASSIC, "MODE": "fast", "URL": "https://u:pw@h/x"}
    out = redact_env(env)
    assert out == {"DEPLOY_TARGET": REDACTED, "MODE": "fast", "URL": "https://[REDACTED]@h/x"}


NOT_SECRETS = [
    "/home/user/projects/perfop/src/perfop/measure/runner.py",
    "src/perfop/store/core.py:123",
    "benchmarks/data/LargeInputFile2024/part00001",
    "C:/Users/Someone/AppData/Local/Programs/Python/Python311/python.exe",
    "a3f9c2e1b4d5f6a7b8c9d0e1f2a3b4c5d6e7f8a9",  # git sha
    "A3F9C2E1B4D5F6A7B8C9D0E1F2A3B4C5D6E7F8A9",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "550e8400-e29b-41d4-a716-446655440000",
    "TestHTTPClientRetriesWithBackoff2Times",
    "ThisIsAVeryLongIdentifierNameWithNumbers123InIt",
    "test_parse_large_json_document_quickly_v2",
    "MyApplicationConfigurationV2Loader",
    "tests/unit/test_config.py::test_placeholders_expand_in_command_cwd_env_and_setup",
    "postgresql://postgres@127.0.0.1:5432/postgres",
    "https://github.com/psf/requests/archive/refs/tags/v2.31.0.tar.gz",
    "python -m pytest -x -q --timeout=300",
    "PYTHONHASHSEED=0",
    "en_US.UTF-8",
    "the quick brown fox jumps over the lazy dog",
    "monkey author keyboard session",  # words containing the secret *name* markers
    "the password policy is strict",  # a keyword without a value
    "password: {password}",  # a template placeholder
    "token=$TOKEN",
    "sort key=name",
    "Bearer authentication is used",
    "task-runner-configuration-file",  # 'sk-' inside a word
    "the tokenizer: bert-base-uncased",
    "CamelCaseIdentifier2024Build",
]


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_ordinary_text_is_not_redacted(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize("name", ["PATH", "HOME", "PYTHONPATH", "LANG", "CI", "VIRTUAL_ENV", "TZ"])
def test_ordinary_variable_names_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_argv_flags_and_assignments() -> None:
    argv = [
        "deploy",
        "--token",
        "plain",
        "--api-key=plain2",
        "--password",
        "hunter2",
        "DB_PASSWORD=hunter3",
        f"--header=Authorization: Bearer {GITHUB_CLASSIC}",
        AWS_KEY_ID,
        "--runs",
        "5",
        "src/module.py",
    ]
    out = redact_argv(argv)
    assert out == [
        "deploy",
        "--token",
        REDACTED,
        f"--api-key={REDACTED}",
        "--password",
        REDACTED,
        f"DB_PASSWORD={REDACTED}",
        f"--header=Authorization: Bearer {REDACTED}",
        REDACTED,
        "--runs",
        "5",
        "src/module.py",
    ]
    joined = " ".join(out)
    for secret in ("plain", "hunter2", "hunter3", GITHUB_CLASSIC, AWS_KEY_ID):
        assert secret not in joined.replace("plain-", "")


def test_redact_obj_walks_nested_structures() -> None:
    doc = {
        "env": {"GH_TOKEN": "x", "MODE": "fast"},
        "argv": ["run", GITHUB_FINE],
        "nested": [{"note": f"key {AWS_KEY_ID}"}, 3, None, 1.5],
    }
    assert redact_obj(doc) == {
        "env": {"GH_TOKEN": REDACTED, "MODE": "fast"},
        "argv": ["run", REDACTED],
        "nested": [{"note": f"key {REDACTED}"}, 3, None, 1.5],
    }


def test_recorded_env_is_allow_list_plus_workload_env() -> None:
    env = {"PATH": "/usr/bin", "HOME": "/root", "GH_TOKEN": GITHUB_CLASSIC, "SHELL": "/bin/sh"}
    out = recorded_env(env, {"BENCH_SIZE": "10", "UPLOAD_TARGET": AWS_KEY_ID})
    assert out == {"BENCH_SIZE": "10", "PATH": "/usr/bin", "UPLOAD_TARGET": REDACTED}


def test_fingerprint_never_holds_planted_secrets(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GH_TOKEN", GITHUB_CLASSIC)
    monkeypatch.setenv("PYTHONPATH", f"/opt/lib:{AWS_KEY_ID}")
    fingerprint = capture_environment(
        tmp_path, workload_env={"INNOCENT": GITHUB_FINE, "SESSION_ID": "abc"}
    )
    text = repr(fingerprint)
    for secret in (GITHUB_CLASSIC, AWS_KEY_ID, GITHUB_FINE):
        assert secret not in text
    assert fingerprint["env"]["INNOCENT"] == REDACTED
    assert fingerprint["env"]["SESSION_ID"] == REDACTED
    assert "GH_TOKEN" not in fingerprint["env"]  # not on the allow-list at all


def test_tokens_judged_in_bulk_get_the_same_verdict_as_one_by_one() -> None:
    """Many distinct tokens are judged with numpy (issue 16 item 6's 10 MB benchmark); the
    verdicts must be exactly those of ``_high_entropy``, token by token."""
    import random
    import string

    from perfop import redact

    rng = random.Random(16)
    chars = string.ascii_letters + string.digits + "+/_=-"
    words = ["Test", "HTTP", "client", "Retry", "with", "back", "off", "2", "Times", "ab", "Q9"]
    tokens: set[str] = set()
    while len(tokens) < 3 * redact._BULK:
        kind = rng.randrange(7)
        if kind == 0:  # random with separators, 18-70
            t = "".join(rng.choices(chars, k=rng.randint(18, 70)))
        elif kind == 1:  # base62, around the 32-character entropy rule
            t = "".join(rng.choices(string.ascii_letters + string.digits, k=rng.randint(20, 40)))
        elif kind == 2:  # identifiers (wordy)
            t = "".join(rng.choices(words, k=rng.randint(3, 16)))
        elif kind == 3:  # few distinct characters
            t = "".join(rng.choices("abcdefghijklmnopABCD0123", k=32))
        elif kind == 4:  # entropy exactly 4.0: 16 characters twice each
            t = "".join(rng.sample("abcdefghijkmnopqABCDEFGH01234567", 16)) * 2
        elif kind == 5:  # paths
            t = "src/" + "".join(rng.choices(chars, k=30))
        else:  # long, mostly lowercase and digits (some past the bulk's 256)
            t = "".join(
                rng.choices(string.ascii_lowercase + string.digits + "AB", k=rng.randint(18, 300))
            )
        tokens.add(t)
    # In any order, with repeats (every token is judged, none deduplicated first).
    listed = sorted(tokens) + rng.sample(sorted(tokens), 500)
    rng.shuffle(listed)
    want = [len(t) >= 20 and redact._high_entropy(t) for t in listed]
    assert redact._judge_in_bulk(listed) == want
    assert 0 < sum(want) < len(want)
    text = " ".join(listed)
    expected = " ".join(
        redact.REDACTED if secret else t for t, secret in zip(listed, want, strict=True)
    )
    assert redact._hide_tokens(text) == expected


@pytest.mark.parametrize("distinct", [50, 2500])
def test_many_repeated_tokens_are_judged_once_each_with_the_same_verdicts(distinct: int) -> None:
    """Text with thousands of tokens but few distinct ones is judged per distinct token (in bulk
    when there are thousands of those too): the verdicts of ``_high_entropy`` all the same."""
    import random
    import string

    from perfop import redact

    rng = random.Random(distinct)
    pool = [
        "".join(rng.choices(string.ascii_letters + string.digits, k=rng.randint(20, 40)))
        if i % 2
        else "".join(rng.choices(["Test", "HTTP", "client", "Retry", "with"], k=6))
        for i in range(distinct)
    ]
    # Every pooled token once, and many repeats of a few: a sample of the text is mostly repeats.
    listed = pool + [rng.choice(pool[:20]) for _ in range(10 * distinct + 3 * redact._BULK)]
    rng.shuffle(listed)
    want = [len(t) >= 20 and redact._high_entropy(t) for t in listed]
    assert 0 < sum(want) < len(want)
    expected = " ".join(
        redact.REDACTED if secret else t for t, secret in zip(listed, want, strict=True)
    )
    assert redact._hide_tokens(" ".join(listed)) == expected
