"""Jinja templates of the alert emails (HTML and text), kept in code so they ship with the
package.  HTML rules for real mail clients: table layout, inline styles only, no scripts,
no remote images, no web fonts; a CJK font stack so Chinese reads well everywhere.
Autoescaping is on: only the diff renderer's output (already escaped) is marked safe.
"""

from __future__ import annotations

from jinja2 import Environment, StrictUndefined

FONT = ('-apple-system, BlinkMacSystemFont, "Segoe UI", "PingFang SC", "Hiragino Sans GB", '
        '"Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", '
        'Arial, sans-serif')
MUTED = "color:#656d76;font-size:13px;"
SIGNATURE = "-- \n"  # RFC 3676 signature separator: mail clients grey out what follows

_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ subject }}</title></head>
<body style="margin:0;padding:0;background:#f4f5f7;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"
 style="background:#f4f5f7;"><tr><td align="center" style="padding:16px 8px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"
 style="max-width:760px;background:#ffffff;border:1px solid #d0d7de;border-radius:6px;
 font-family:{{ font }};color:#1f2328;font-size:15px;line-height:1.7;">
<tr><td style="padding:20px 24px;">
{{ content }}
<p style="margin:20px 0 0;padding-top:10px;border-top:1px solid #d0d7de;{{ muted }}">
{{ footer }}</p>
</td></tr></table></td></tr></table></body></html>
"""

_FACTS = """<table role="presentation" cellpadding="0" cellspacing="0" border="0"
 style="margin:0 0 12px;font-size:14px;line-height:1.6;">
{% for label, value, href in facts %}<tr>
<td style="{{ muted }}padding:2px 12px 2px 0;white-space:nowrap;vertical-align:top;">
{{ label }}</td>
<td style="padding:2px 0;word-break:break-all;">{% if href %}<a href="{{ href }}"
 style="color:#0969da;text-decoration:underline;">{{ value }}</a>
{%- else %}{{ value }}{% endif %}</td>
</tr>{% endfor %}</table>"""

_META = """{% if meta %}<table role="presentation" cellpadding="6" cellspacing="0" border="0"
 style="margin:0 0 12px;border-collapse:collapse;font-size:14px;width:100%;">
<tr style="background:#f6f8fa;"><th align="left" style="border:1px solid #d0d7de;">字段</th>
<th align="left" style="border:1px solid #d0d7de;">原值</th>
<th align="left" style="border:1px solid #d0d7de;">新值</th></tr>
{% for key, old, new in meta %}<tr><td style="border:1px solid #d0d7de;">{{ key }}</td>
<td style="border:1px solid #d0d7de;background:#ffebe9;">{{ old }}</td>
<td style="border:1px solid #d0d7de;background:#dafbe1;">{{ new }}</td></tr>{% endfor %}
</table>{% endif %}"""

_CHANGE = """<div style="{{ muted }}">{{ kind_label }} · {{ source }}</div>
<h1 style="margin:4px 0 12px;font-size:20px;line-height:1.4;font-weight:600;">{{ title }}</h1>
""" + _FACTS + _META + """{% if diff_html %}
<div style="margin-top:8px;padding:12px 14px;background:#f6f8fa;border:1px solid #d0d7de;
 border-radius:6px;word-break:break-word;">{{ diff_html | safe }}</div>{% endif %}"""

_DIGEST = """<h1 style="margin:0 0 12px;font-size:20px;line-height:1.4;font-weight:600;">
{{ heading }}</h1>
{% for c in changes %}<div style="margin:0 0 18px;padding-top:12px;border-top:1px solid #d0d7de;">
<div style="{{ muted }}">{{ c.kind_label }} · {{ c.source }} · {{ c.when }}</div>
<h2 style="margin:2px 0 6px;font-size:17px;line-height:1.4;font-weight:600;">
<a href="{{ c.url }}" style="color:#0969da;text-decoration:none;">{{ c.title }}</a></h2>
{% if c.summary %}<div style="font-size:14px;margin:0 0 6px;">{{ c.summary }}</div>{% endif %}
{% if c.links %}<div style="font-size:14px;margin:0 0 6px;">{% for label, url in c.links %}
<a href="{{ url }}" style="color:#0969da;">{{ label }}</a>{% endfor %}</div>{% endif %}
{% if c.diff_html %}<div style="padding:10px 12px;background:#f6f8fa;border:1px solid #d0d7de;
 border-radius:6px;font-size:14px;word-break:break-word;">{{ c.diff_html | safe }}</div>{% endif %}
</div>{% endfor %}"""

_NOTICE = """<div style="{{ muted }}">{{ label }}</div>
<h1 style="margin:4px 0 12px;font-size:20px;line-height:1.4;font-weight:600;">{{ title }}</h1>
""" + _FACTS + """{% if lines %}<ul style="margin:0;padding-left:20px;">
{% for line in lines %}<li>{{ line }}</li>{% endfor %}</ul>{% endif %}"""

_TEXT = """{{ title }}
{{ '=' * 40 }}
{% for label, value in facts %}{{ label }}：{{ value }}
{% endfor %}{% for key, old, new in meta %}{{ key }}：{{ old }} → {{ new }}
{% endfor %}{% if body %}
{{ body }}
{% endif %}
""" + SIGNATURE + """{{ footer }}
"""

_html = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
_text = Environment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)
PAGE = _html.from_string(_PAGE)
CHANGE = _html.from_string(_CHANGE)
DIGEST = _html.from_string(_DIGEST)
NOTICE = _html.from_string(_NOTICE)
TEXT = _text.from_string(_TEXT)


def page(subject: str, content: str, footer: str) -> str:
    """Wrap rendered ``content`` (already escaped HTML) in the email document."""
    from markupsafe import Markup

    return PAGE.render(subject=subject, content=Markup(content), footer=footer, font=FONT,
                       muted=MUTED)
