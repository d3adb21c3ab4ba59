"""`/dev/sink`: the embedded mode's local sink for staff (本地收件箱) — the SMS and mail `make run`
had no gateway for, newest first, with their links (the survey's) clickable. Served only when
`KESU_LOCAL_SINK_DIR` is set (only `make run` sets it) and only to the machine itself
(loopback clients): anywhere else it is a 404, as if it did not exist."""

from __future__ import annotations

import html
import ipaddress
import re

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from services.intake_api.deps import ClientIpDep, SettingsDep
from services.intake_api.h5.router import SECURITY_HEADERS
from shared.domain.errors import NotFound
from shared.local_sink import FILE_NAME, SunkMessage, read_messages

router = APIRouter(include_in_schema=False)
_LINK = re.compile(r"https?://[^\s<>\"']+")
_CHANNELS = {"sms": "短信", "email": "邮件"}


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def _linked(text: str) -> str:
    escaped = html.escape(text)
    return _LINK.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)


def _row(message: SunkMessage) -> str:
    subject = f"<strong>{html.escape(message.subject)}</strong><br>" if message.subject else ""
    return (
        f"<tr><td>{message.at:%Y-%m-%d %H:%M:%S}</td>"
        f"<td>{_CHANNELS.get(message.channel, html.escape(message.channel))}</td>"
        f"<td>{html.escape(message.to)}</td>"
        f'<td class="body">{subject}{_linked(message.body)}</td></tr>'
    )


@router.get("/dev/sink")
async def local_sink(settings: SettingsDep, ip: ClientIpDep) -> HTMLResponse:
    if settings.local_sink_dir is None or not _loopback(ip):
        raise NotFound("no such page")
    messages = read_messages(settings.local_sink_dir)
    rows = "\n".join(_row(m) for m in messages) or '<tr><td colspan="4">还没有消息。</td></tr>'
    page = f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>本地收件箱 — Kesu 客诉</title>
<link rel="stylesheet" href="/h5/h5.css">
</head>
<body class="wide">
<main>
<h1>本地收件箱 (local sink)</h1>
<p class="hint">make run has no SMS gateway or mail server: the messages customers (and staff)
would receive are kept in <code>{html.escape(str(settings.local_sink_dir / FILE_NAME))}</code>,
newest first. Reload to see new ones.</p>
<table id="messages">
<thead><tr><th>时间 (+08:00)</th><th>渠道</th><th>收件人</th><th>内容</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</main>
</body>
</html>
"""
    return HTMLResponse(page, headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})
