"""Response headers: a strict security policy for every response, CORS for the API.

The page loads only its own scripts, styles and images (the preview is a
data URL, a chosen photo a blob: URL made in the page), so the Content-Security-Policy allows nothing else, no inline
script, and no framing. The API is public and takes no credentials, so any
origin may call it: CORS allows every origin but never credentials.
"""

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

CORS_MAX_AGE_S = 86400
"""How long a browser may cache the answer to a CORS preflight."""

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": str(CORS_MAX_AGE_S),
}


def add_security_headers(response):
    """Add the security headers to any response that does not set its own."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def add_cors_headers(response):
    """Let pages on any origin call the API, without credentials."""
    response.headers.update(CORS_HEADERS)
    return response


def init_app(app):
    """Register the security headers for every response of the app."""
    app.after_request(add_security_headers)
