"""The text XPulse writes onto tickets (work notes, comments, callbacks): one wording for every
kind, in the connector's `language`, ending with the answer version's ref a retry looks for."""

from __future__ import annotations

import re

from app.feedback import i18n
from app.feedback.scales import SCALES, Band
from app.tickets.events import WriteBack

# The words around the requester's own are the catalogue's `note_*` messages
# (app/feedback/locales): translators find every text in one place.
# A score the scale gives no face of its own (7 on 0–10) shows its band's face.
BAND_FACES = {Band.happy: "😀", Band.neutral: "😐", Band.unhappy: "😞"}
REF_PREFIX = "XPulse ref "
# ServiceNow renders [code]…[/code] in journal fields as HTML: requester text never opens one.
CODE_TAG = re.compile(r"\[(/?code)\]", re.IGNORECASE)


def face(result: WriteBack) -> str:
    scale = SCALES.get(result.scale)
    if scale is None:
        return result.label
    return scale.labels.get(result.score) or BAND_FACES[scale.band(result.score)]


def score_text(result: WriteBack) -> str:
    """The face and the score once: `😀 9/10`."""
    scale = SCALES.get(result.scale)
    out_of = f"/{scale.max}" if scale else ""
    return f"{face(result)} {result.score}{out_of}".strip()


def factor_labels(result: WriteBack, language: str) -> list[str]:
    return [_catalogue(language, f"f_{key}", key) for key in result.factors]


def lost_time_label(result: WriteBack, language: str) -> str | None:
    if result.lost_time:
        fallback = f"{result.lost_minutes} min" if result.lost_minutes is not None else None
        return _catalogue(language, f"l_{result.lost_time}", fallback or result.lost_time)
    return f"{result.lost_minutes} min" if result.lost_minutes is not None else None


def marker(result: WriteBack) -> str:
    """The note's last line: names this answer version, so a retry finds what it wrote."""
    return REF_PREFIX + result.version_ref


def has_marker(text: str, result: WriteBack) -> bool:
    """Whether `text` is the note of this answer version (its last line is the marker)."""
    return text.rstrip().endswith(marker(result))


def score_note(result: WriteBack, language: str = "en") -> str:
    """The work note or comment:

    XPulse feedback: 😀 9/10
    Factors: Service was fast; Friendly and polite
    Lost time: 15–30 minutes
    Comment: "Took a while"
    XPulse ref 3f2a9c1d.7e41b0
    """
    words = i18n.strings(language)
    lines = [f"{words['note_feedback']}: {score_text(result)}"]
    if labels := factor_labels(result, language):
        lines.append(f"{words['note_factors']}: " + "; ".join(labels))
    if lost := lost_time_label(result, language):
        lines.append(f"{words['note_lost']}: {lost}")
    if result.comment:
        comment = CODE_TAG.sub(r"[ \1 ]", result.comment.strip())
        lines.append(f'{words["note_comment"]}: "{comment}"')
    lines.append(marker(result))
    return "\n".join(lines)


def score_document(result: WriteBack, language: str = "en") -> dict[str, object]:
    """The JSON stored as a Jira issue property or sent to a generic callback: the same content
    as the note, labels in the connector's language beside the keys."""
    return {
        "score": result.score,
        "scale": result.scale,
        "normalised": result.normalised,
        "label": face(result),
        "text": score_text(result),
        "lost_time": result.lost_time,
        "lost_time_label": lost_time_label(result, language),
        "lost_minutes": result.lost_minutes,
        "factors": result.factors,
        "factor_labels": factor_labels(result, language),
        "comment": result.comment,
        "language": language,
        "request_id": str(result.request_id),
        "response_id": str(result.response_id),
        "updated_at": result.response_updated_at.isoformat(),
        "ref": result.version_ref,
    }


def _catalogue(language: str, key: str, fallback: str) -> str:
    """The page's label for a factor or lost-time key; the key itself if it has none."""
    return i18n.strings(language).get(key, fallback)
