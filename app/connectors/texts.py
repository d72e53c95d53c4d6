"""The text XPulse writes onto tickets (work notes, comments): one wording for every kind."""

from __future__ import annotations

from app.feedback.scales import SCALES
from app.tickets.events import WriteBack


def score_note(result: WriteBack) -> str:
    """`XPulse: the requester rated 😀 10/10 · lost time: 25 min · "comment"`."""
    scale = SCALES.get(result.scale)
    out_of = f"/{scale.max}" if scale else ""
    parts = [f"XPulse: the requester rated {result.label} {result.score}{out_of}"]
    if result.lost_minutes is not None:
        parts.append(f"lost time: {result.lost_minutes} min")
    elif result.lost_time:
        parts.append(f"lost time: {result.lost_time}")
    if result.factors:
        parts.append("factors: " + ", ".join(result.factors))
    text = " · ".join(parts)
    if result.comment:
        text += f'\nComment: "{result.comment}"'
    return text


def score_document(result: WriteBack) -> dict[str, object]:
    """The JSON stored as a Jira issue property or sent to a generic callback."""
    return {
        "score": result.score,
        "scale": result.scale,
        "normalised": result.normalised,
        "label": result.label,
        "lost_time": result.lost_time,
        "lost_minutes": result.lost_minutes,
        "factors": result.factors,
        "comment": result.comment,
        "request_id": str(result.request_id),
        "response_id": str(result.response_id),
        "updated_at": result.response_updated_at.isoformat(),
    }
