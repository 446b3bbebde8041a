"""What a notification says, in the site's language (Turkish or English).

It names the site, the kiosk, what happened (the answers, the help request, the window's
counts, the silence, the health problem) and the time in the site's own zone, and carries the
acknowledge link. Answers are shown by their survey ids ("what-went-wrong: cleanliness"):
the fleet does not keep survey texts yet (the survey-push work adds them). Pure: the caller
gives the alert's facts and the link.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from fleet.escalation.config import Site

_TEXT = {
    "tr": {
        "title": {"help": "YARDIM İSTENİYOR", "response": "Olumsuz geri bildirim", "window": "Memnuniyet düştü", "offline": "Kiosk sessiz", "health": "Kiosk bakım istiyor"},
        "site": "Yer", "kiosk": "Kiosk", "time": "Zaman", "answers": "Yanıtlar", "alert": "Uyarı",
        "help": "Bir müşteri yardım istedi ve kioskun yanında bekliyor.",
        "window": "Son {minutes:g} dakikada {total} yanıtın {negative} tanesi olumsuz (%{percent}).",
        "offline": "{minutes:g} dakikadan uzun süredir ses yok (son: {last_seen}).",
        "never": "hiç",
        "health": {"disk": "disk dolmak üzere", "backlog": "gönderilemeyen yanıtlar birikiyor", "refused": "reddedilen yanıtlar var"},
        "ack": "Üstlenmek için",
        "format": "%d.%m.%Y %H:%M",
    },
    "en": {
        "title": {"help": "HELP REQUESTED", "response": "Negative feedback", "window": "Satisfaction dropped", "offline": "Kiosk silent", "health": "Kiosk needs attention"},
        "site": "Site", "kiosk": "Kiosk", "time": "Time", "answers": "Answers", "alert": "Alert",
        "help": "A customer asked for help and is waiting at the kiosk.",
        "window": "{negative} of {total} responses negative in the last {minutes:g} minutes ({percent} %).",
        "offline": "Silent for more than {minutes:g} minutes (last heard: {last_seen}).",
        "never": "never",
        "health": {"disk": "disk nearly full", "backlog": "unsent answers are piling up", "refused": "answers were refused"},
        "ack": "To take it",
        "format": "%Y-%m-%d %H:%M",
    },
}


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def render(site: Site, alert_id: int, kind: str, device_id: str | None, opened_at: float, facts: Mapping, link: str) -> Message:
    text = _TEXT.get(site.language, _TEXT["en"])
    headline_key = "help" if kind == "response" and facts.get("on") == "help" else kind
    title = f"{text['title'].get(headline_key, kind)}: {site.name}" + (f" / {device_id}" if device_id else "")
    lines = [f"{text['site']}: {site.name}"]
    if device_id:
        lines.append(f"{text['kiosk']}: {device_id}")
    lines.append(f"{text['time']}: {_local(site, float(facts.get('occurred_at') or opened_at), text['format'])}")
    if headline_key == "help":
        lines.append(text["help"])
    if kind == "response" and facts.get("answers"):
        lines.append(f"{text['answers']}: " + ", ".join(f"{question}: {option}" for question, option in facts["answers"]))
    elif kind == "window":
        lines.append(text["window"].format(minutes=float(facts.get("minutes", 0)), total=facts.get("total"), negative=facts.get("negative"), percent=facts.get("percent")))
    elif kind == "offline":
        seen = facts.get("last_seen")
        lines.append(text["offline"].format(minutes=float(facts.get("after_minutes", 0)), last_seen=_local(site, float(seen), text["format"]) if seen else text["never"]))
    elif kind == "health":
        lines.append(", ".join(text["health"].get(problem, problem) for problem in facts.get("problems", [])))
    lines.append(f"{text['alert']} #{alert_id}")
    lines.append(f"{text['ack']}: {link}")
    return Message(title, "\n".join(lines))


def _local(site: Site, at: float, pattern: str) -> str:
    return datetime.fromtimestamp(at, site.zone).strftime(pattern)
