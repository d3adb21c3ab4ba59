"""`/dev/sink`: the embedded mode's local sink for staff (本地收件箱) — the SMS and mail `make run`
had no gateway for, newest first, with their links (the survey's) clickable and their attachments
(a scheduled report's workbook and chart page) listed and downloadable at
`/dev/sink/<message id>/<file name>`. Served only when
`KESU_LOCAL_SINK_DIR` is set (only `make run` sets it) and only to the machine itself
(loopback clients): anywhere else it is a 404, as if it did not exist."""

from __future__ import annotations

import html
import ipaddress
import re
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from services.intake_api.deps import ClientIpDep, SettingsDep
from services.intake_api.h5.router import SECURITY_HEADERS
from services.intake_api.reports.formats import disposition
from shared.config import Settings
from shared.domain.errors import NotFound
from shared.local_sink import FILE_NAME, SunkMessage, attachment_path, read_messages
from shared.reports.html import HTML_MEDIA_TYPE
from shared.reports.xlsx import XLSX_MEDIA_TYPE

router = APIRouter(include_in_schema=False)
_LINK = re.compile(r"https?://[^\s<>\"']+")
_CHANNELS = {"sms": "短信", "email": "邮件"}
# The attachments mails carry (a report's workbook and page); anything else as bytes.
_MEDIA_TYPES = {".xlsx": XLSX_MEDIA_TYPE, ".html": HTML_MEDIA_TYPE}


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def _linked(text: str) -> str:
    escaped = html.escape(text)
    return _LINK.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)


def _files(message: SunkMessage) -> str:
    if not message.attachments:
        return ""
    links = "".join(
        f'<li><a class="attachment" href="/dev/sink/{quote(message.message_id)}/{quote(name)}">'
        f"{html.escape(name)}</a></li>"
        for name in message.attachments
    )
    return f'<ul class="attachments">附件：{links}</ul>'


def _row(message: SunkMessage) -> str:
    subject = f"<strong>{html.escape(message.subject)}</strong><br>" if message.subject else ""
    return (
        f"<tr><td>{message.at:%Y-%m-%d %H:%M:%S}</td>"
        f"<td>{_CHANNELS.get(message.channel, html.escape(message.channel))}</td>"
        f"<td>{html.escape(message.to)}</td>"
        f'<td class="body">{subject}{_linked(message.body)}{_files(message)}</td></tr>'
    )


def _sink_dir(settings: Settings, ip: str) -> Path:
    """The sink's directory, for this machine under `make run` only (else a 404)."""
    if settings.local_sink_dir is None or not _loopback(ip):
        raise NotFound("no such page")
    return settings.local_sink_dir


@router.get("/dev/sink/{message_id}/{name}")
async def local_sink_attachment(
    settings: SettingsDep, ip: ClientIpDep, message_id: str, name: str
) -> FileResponse:
    """A kept attachment, as a download (an HTML report is not rendered on the API's origin)."""
    path = attachment_path(_sink_dir(settings, ip), message_id, name)
    if path is None:
        raise NotFound("no such attachment")
    media_type = _MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(
        path,
        media_type=media_type,
        headers={
            **SECURITY_HEADERS,
            "Cache-Control": "no-store",
            "Content-Disposition": disposition(name),
        },
    )


@router.get("/dev/sink")
async def local_sink(settings: SettingsDep, ip: ClientIpDep) -> HTMLResponse:
    directory = _sink_dir(settings, ip)
    messages = read_messages(directory)
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
would receive are kept in <code>{html.escape(str(directory / FILE_NAME))}</code>,
newest first, a mail's attachments beside it. Reload to see new ones.</p>
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
