"""Browser navigation shared by the test drivers."""
import re
from html import unescape


def location(r):
    """Where the browser goes next: a redirect, or the link a "Continuing" page navigates to (the
    page idpipe answers a form POST with when the next stop is another origin)."""
    if r.status_code in (301, 302, 303):
        return r.headers.get("location")
    if r.status_code == 200 and "<title>Continuing</title>" in r.text:
        m = re.search(r'<a id="next" href="([^"]*)"', r.text)
        return unescape(m.group(1)) if m else None
    return None
