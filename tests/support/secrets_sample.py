"""Sample secrets in every setting that takes one, and the check that no output shows them."""

from __future__ import annotations

DB_PASSWORD = "Db5ecretPw0rd"
DB_QUERY_PASSWORD = "QueryDbPw4242"
HOOK_USER = "hookuser7731"
HOOK_PASSWORD = "HookPw99xyz"
HOOK_PATH_TOKEN = "T0KENabc123def456ghi"
HOOK_QUERY_TOKEN = "QueryT0ken777zz"
WEBHOOK_SECRET = "whsec-Sup3rSecretValue"
ADMIN_TOKEN = "admin-Tok3nValue0123456789"
SMTP_PASSWORD = "SmtpPw42xyz"
RECORDS_KEY = "Rec0rdsKey-" + "9f3c" * 8
SECRETS = (DB_PASSWORD, DB_QUERY_PASSWORD, HOOK_USER, HOOK_PASSWORD, HOOK_PATH_TOKEN,
           HOOK_QUERY_TOKEN, WEBHOOK_SECRET, ADMIN_TOKEN, SMTP_PASSWORD, RECORDS_KEY)
SECRET_ENV = {
    "E911_DATABASE_URL": f"postgresql://e911:{DB_PASSWORD}@db.example.com:5432/e911"
                         f"?sslmode=require&password={DB_QUERY_PASSWORD}",
    "E911_WEBHOOK_URL": f"https://{HOOK_USER}:{HOOK_PASSWORD}@hooks.example.com/e911/"
                        f"{HOOK_PATH_TOKEN}?token={HOOK_QUERY_TOKEN}",
    "E911_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "E911_ADMIN_TOKENS": f"{ADMIN_TOKEN},admin-Other0123456789abcdef",
    "E911_SMTP_URL": f"smtp+starttls://mailer%40example.com:{SMTP_PASSWORD}@mail.example.com:587",
    "E911_RECORDS_KEY": RECORDS_KEY,
}


def assert_no_secret(*outputs: str) -> None:
    """No secret of `SECRETS` in any of `outputs` (stdout, stderr, logs)."""
    for text in outputs:
        for secret in SECRETS:
            assert secret not in text, (secret, text[-3000:])
